"""Prompt size per turn over a long session: turn 10 vs turn 1,000 (target flat, <= 1.1x).

Each turn's prompt is what the loopback fake model received; tokens are counted with the same
estimate the prompt builder uses (core.prompt.estimate_tokens), plus the characters, so the growth
is visible whichever measure you prefer. Memory writes are on (memories accumulate too).
Run: python bench/prompt_growth.py
"""

from __future__ import annotations

import asyncio

from _common import bench_core

from core.models import IncomingMessage, Platform
from core.prompt import estimate_tokens
from tests.fakes.openai_server import FakeOpenAI

TURNS = 1000


async def main() -> None:
    with FakeOpenAI() as fake:
        fake.state.reply = lambda messages: "Thanks for telling me; here is a reply of ordinary length. " * 3
        async with bench_core(fake, session_idle_minutes=60 * 24) as core:
            tokens = []
            chars = []
            for turn in range(1, TURNS + 1):
                text = (
                    f"turn {turn}: today I worked on project {turn % 13} and had lunch at place {turn % 17}"
                )
                await core.orchestrator.handle(
                    IncomingMessage(
                        platform=Platform.CONSOLE,
                        workspace="bench",
                        user="pat",
                        channel="dm-pat",
                        text=text,
                        message_id=str(turn),
                        is_private=True,
                        is_direct=True,
                        user_name="Pat",
                    )
                )
                prompt = fake.chat_prompts()[-1]
                tokens.append(sum(estimate_tokens(str(m["content"])) + 4 for m in prompt))
                chars.append(sum(len(str(m["content"])) for m in prompt))
                if turn % 50 == 0:
                    await core.writer.flush(60)
            await core.writer.flush(60)
            for turn in (1, 10, 100, 1000):
                print(f"turn {turn:5d}: ~{tokens[turn - 1]:6d} tokens  {chars[turn - 1]:7d} chars")
            print(f"turn 1000 / turn 10: {tokens[999] / tokens[9]:.3f}x tokens   target <= 1.1")
            print(f"max over all turns: ~{max(tokens)} tokens (budget {core.settings.prompt_token_budget})")


if __name__ == "__main__":
    asyncio.run(main())
