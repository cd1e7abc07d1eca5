"""Reading a request body without buffering more than a front door is willing to accept.

Starlette's `await request.body()` reads everything the client sends before anyone can look at its
size: an unauthenticated 200 MB POST then costs 200 MB (twice, briefly) before it is refused.
`read_capped_body` refuses a declared Content-Length over the cap without reading anything, and
stops reading a body sent without one (chunked) as soon as it passes the cap. Starlette and
FastAPI offer no body limit of their own, hence these few lines.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLarge(Exception):
    """The body is (or claims to be) larger than the cap; nothing past the cap was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class UnreadableBody(Exception):
    """The body could not be read: a Content-Length that is not a number, or the client left."""


async def read_capped_body(request: Request, *, limit: int) -> bytes:
    """The whole body, at most `limit` bytes. Raises BodyTooLarge or UnreadableBody."""
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        # isascii first: "²" is a latin-1 header character that str.isdigit() accepts.
        if not (declared.isascii() and declared.isdigit()):
            raise UnreadableBody("Content-Length is not a number")
        digits = declared.lstrip("0")
        # The length test first: int() refuses strings of more than 4,300 digits (ValueError).
        if len(digits) > len(str(limit)) or int(digits or "0") > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise UnreadableBody("the client disconnected while sending the body") from None
    return b"".join(chunks)
