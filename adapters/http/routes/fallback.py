"""Anything else under /v1 gets the API's error shape, not the framework's: a 405 with `Allow`
when the path exists with other methods, else a 404. Included last, after every resource."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

from fastapi import APIRouter, Request, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from adapters.http.api_route import ApiRoute
from adapters.http.deps import Services
from adapters.http.errors import ApiError, ErrorCode
from adapters.http.routes import PREFIX

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

router = APIRouter(route_class=ApiRoute)


def allowed_methods(services: Services, request: Request) -> list[str]:
    """The methods the /v1 router's other routes serve at this request's path."""
    # Included routers hold their routes by reference: their effective (prefixed) routes are the
    # ones that match a request's full path.
    return sorted(
        {
            method
            for route in iter_route_contexts(services.routes)
            if route.endpoint is not unknown
            for method in route.methods or ()
            if route.matches({**request.scope, "method": method})[0] is Match.FULL
        }
    )


@router.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
async def unknown(request: Request, path: str, services: Services) -> Response:
    allowed = allowed_methods(services, request)
    if allowed:
        return ApiError(
            405,
            ErrorCode.METHOD_NOT_ALLOWED,
            f"{request.method} is not supported here; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        ).response()
    return ApiError(404, ErrorCode.NOT_FOUND, f"No endpoint {PREFIX}/{path[:100]}.").response()
