"""What every chat front door needs and none should rebuild.

- `body`: read a request body without buffering more than the door accepts (read_capped_body).
- `tasks`: TaskTracker, the door's in-flight work: spawn() acknowledged work, hold() work running
  in a task the SDK made, wait_idle() / drain(timeout) at shutdown.
- `split`: split_message(text, limit=..., rules=MarkupRules(...)), one splitter for every
  platform's length rules and markup (Slack: translate.SLACK_MARKUP).
- `reply_writer`: ReplyWriter, a streamed answer over a three-call ReplyTarget (post, edit,
  delete), paced by Pacing.

Adopting them on Discord (what its client does by hand today):
    ReplyWriter(target, layout=..., pacing=Pacing(interval=edit_interval,
                first_post_delay=edit_interval, new_messages_per_update=1),
                on_first_post=typing.stop)
      target.post(text, index): the thread or the quoted reply at index 0, nonce_for(id, index);
      discord.Forbidden -> DeliveryFailed(permanent=True), other HTTP errors -> DeliveryFailed.
      layout: split_message(text, limit=2000, rules=MarkupRules(measure=utf16_length,
      language_tags=True)).
    the `_answering` counter -> `with tracker.hold():`; wait_replies_sent -> tracker.wait_idle.
The HTTP API's `running` set -> TaskTracker("http", on_failure=...) with spawn().
"""
