from __future__ import annotations

from tests.adapters.discord.conftest import RunBot, new_user


async def test_mention_gets_a_reply(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await bot.say("hello there", user_id=user)
        posts = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path.endswith("/messages"))
        assert "hello there" in posts[0].body["content"]
