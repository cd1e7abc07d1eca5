"""What every chat front door needs and none should rebuild.

- `body`: read a request body without buffering more than the door accepts (read_capped_body).
- `tasks`: TaskTracker, the door's in-flight work: spawn() acknowledged work, hold() work running
  in a task the SDK made, wait_idle() / drain(timeout) at shutdown.
- `split`: split_message(text, limit=..., rules=MarkupRules(...)), one splitter for every
  platform's length rules and markup (Slack: translate.SLACK_MARKUP).
- `reply_writer`: ReplyWriter, a streamed answer over a three-call ReplyTarget (post, edit,
  delete), paced by Pacing.

Who uses what:
- Slack (adapters/slack/listeners.py): TaskTracker for every acknowledged event, ReplyWriter over
  SlackThread, split_message with SLACK_MARKUP.
- Discord (adapters/discord/): TaskTracker for the messages the gateway handed over (client.py),
  ReplyWriter over DiscordReplyTarget (replies.py: thread or quote, nonces, typing until the first
  post), split_message with DISCORD_MARKUP (render.py: UTF-16 lengths, language tags).
- The HTTP API (adapters/http/): TaskTracker for the chat replies a closed stream leaves running.
"""
