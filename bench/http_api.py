"""The HTTP API's own cost: token verification, and requests through the real web server (uvicorn on
loopback) against the same work done by calling the core directly.

1. verify one token: HS256 (shared secret), RS256 and ES256 (keys from a loopback JWKS, cached);
2. GET /v1/auth/me over HTTP (verify + resolve the account + settings);
3. POST /v1/chat over HTTP vs Orchestrator.handle with the same message (instant fake model):
   the difference is what the API layer adds to a reply;
4. GET /v1/sessions with 20 concurrent clients: requests per second, next to a bare FastAPI route
   measured the same way (the client runs in the same process, so that is the setup's ceiling).
Run: python bench/http_api.py
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
import uuid

import httpx
from _common import bench_core, summary
from fastapi import FastAPI

from adapters.http.api import build_api_router
from adapters.http.auth import TokenVerifier
from bot.web import WebServer, create_web_app
from core.models import IncomingMessage, Platform
from tests.fakes.jwks import FakeSupabaseAuth, SigningKey, mint
from tests.fakes.openai_server import FakeOpenAI

WARMUP = 5


async def verify_times(verifier: TokenVerifier, token: str, count: int) -> list[float]:
    times = []
    for i in range(count + WARMUP):
        start = time.perf_counter()
        await verifier.verify(token)
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return times


async def timed(call: object, count: int) -> list[float]:
    times = []
    for i in range(count + WARMUP):
        start = time.perf_counter()
        await call(i)  # type: ignore[operator]
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return times


async def main() -> None:
    secret = secrets.token_urlsafe(48)
    rsa, ec = SigningKey.rsa(), SigningKey.ec()
    with FakeOpenAI() as fake, FakeSupabaseAuth([rsa, ec]) as auth:
        fake.state.reply = lambda messages: "A short answer."
        verifier = TokenVerifier(hs256_secret=secret, jwks_url=auth.jwks_url)
        print("token verification")
        for name, token in (("HS256", mint(secret)), ("RS256", mint(rsa)), ("ES256", mint(ec))):
            print(f"  {name}:                        {summary(await verify_times(verifier, token, 500))}")

        async with bench_core(
            fake, supabase_jwt_secret=secret, api_rate_limit_per_minute=100_000, scheduler_enabled=False
        ) as core:
            app = create_web_app(core, routers=[build_api_router(core.assistant, core.settings)])
            web = WebServer(app, host="127.0.0.1", port=0)
            await web.start()
            headers = {"Authorization": f"Bearer {mint(secret, sub='bench-user')}"}
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{web.port}", headers=headers
                ) as client:

                    async def me(_: int) -> None:
                        assert (await client.get("/v1/auth/me")).status_code == 200

                    print("over HTTP (uvicorn, loopback, keep-alive)")
                    print(f"  GET /v1/auth/me:              {summary(await timed(me, 300))}")

                    session = (await client.post("/v1/chat", json={"message": "hello"})).json()["session_id"]

                    async def chat(i: int) -> None:
                        body = {"message": f"note {i}: I like hiking", "session_id": session}
                        assert (await client.post("/v1/chat", json=body)).status_code == 200
                        await core.writer.flush(30)

                    async def direct(i: int) -> None:
                        message = IncomingMessage(
                            platform=Platform.WEB,
                            workspace="",
                            user="direct-user",
                            channel="direct-user",
                            thread=session,
                            text=f"note {i}: I like hiking",
                            message_id=uuid.uuid4().hex,
                            is_private=True,
                            is_direct=True,
                        )
                        assert await core.orchestrator.handle(message) is not None
                        await core.writer.flush(30)

                    via_http = await timed(chat, 150)
                    via_core = await timed(direct, 150)
                    print(f"  POST /v1/chat:                {summary(via_http)}")
                    print(f"  Orchestrator.handle (direct): {summary(via_core)}")
                    added = statistics.median(via_http) - statistics.median(via_core)
                    print(f"  API layer adds (p50 diff):    {added:7.2f} ms")

                    async def worker(n: int) -> int:
                        done = 0
                        for _ in range(n):
                            assert (await client.get("/v1/sessions")).status_code == 200
                            done += 1
                        return done

                    start = time.perf_counter()
                    total = sum(await asyncio.gather(*(worker(50) for _ in range(20))))
                    elapsed = time.perf_counter() - start
                    print(f"  GET /v1/sessions, 20 clients: {total / elapsed:7.0f} req/s")
            finally:
                await web.stop()
        print(f"  bare FastAPI route, same way: {await bare_rate():7.0f} req/s  (the setup's ceiling)")


async def bare_rate() -> float:
    # The client shares the process (and the 2 cores) with the server: this is the ceiling of the
    # measurement itself, for reading the number above.
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, int]:
        return {"ok": 1}

    web = WebServer(app, host="127.0.0.1", port=0)
    await web.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web.port}") as client:

            async def worker() -> None:
                for _ in range(50):
                    await client.get("/ping")

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(20)))
            return 1000 / (time.perf_counter() - start)
    finally:
        await web.stop()


if __name__ == "__main__":
    asyncio.run(main())
