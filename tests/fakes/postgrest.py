"""A PostgREST-compatible RPC endpoint on loopback, backed by a real PostgreSQL database.

PostgREST cannot be installed on these machines, so this serves the one part of it Mnemo uses,
`POST /rest/v1/rpc/<fn>`, the way PostgREST (behind Supabase's gateway) does:

- auth: `apikey` and `Authorization: Bearer <jwt>` are required (401 otherwise); the JWT must be
  signed with the project's secret; its `role` claim becomes the database role for the request
  (`set local role`), exactly as PostgREST switches from its authenticator role;
- the call: the function is looked up in the catalog by name and argument names (the JSON keys);
  arguments are read through `json_to_record` with the catalog's types and passed by name, in one
  transaction: `select ... from json_to_record($1) as _a(...), lateral public.fn(p := _a.p, ...)`;
- the answer: scalar -> bare JSON, single composite -> object, SETOF -> array of objects,
  void -> 204; errors -> `{"code", "message", "details", "hint"}` with PostgREST's HTTP status for
  the SQLSTATE (23505 -> 409, P0001 -> 400, 42501 -> 401/403, 08* -> 503, ...); an unknown function
  or argument set -> 404 PGRST202.

Only this HTTP <-> SQL translation is ours; the SQL, the database and supabase-py are real.
Runs in its own thread and event loop, so a test can stop and restart it (same port) at will.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
from aiohttp import web
from psycopg import sql


def make_key(secret: str, role: str, *, expires_in: float = 3600.0) -> str:
    """A Supabase-style API key: an HS256 JWT with a `role` claim."""
    now = int(time.time())
    claims = {"iss": "supabase", "role": role, "iat": now, "exp": now + int(expires_in)}
    return jwt.encode(claims, secret, algorithm="HS256")


def status_for(sqlstate: str, *, role: str) -> int:
    """PostgREST's HTTP status for a PostgreSQL error code (docs: references/errors)."""
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "P0001": 400,
        "42883": 404,
        "42P01": 404,
        "42501": 401 if role == "anon" else 403,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    prefixes = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return prefixes.get(sqlstate[:2], 400)


@dataclass(frozen=True)
class _Function:
    name: str
    inputs: list[tuple[str, str]]  # (argument name, SQL type), in declaration order
    required: frozenset[str]
    returns_set: bool
    returns_void: bool
    returns_composite: bool

    def accepts(self, keys: set[str]) -> bool:
        return keys <= {name for name, _ in self.inputs} and self.required <= keys


_LOOKUP = """
select p.proname,
       coalesce(p.proargnames, '{}'::text[]),
       coalesce(p.proargmodes::text[], '{}'::text[]),
       array(select pg_catalog.format_type(a.t, null)
               from unnest(p.proargtypes::oid[]) with ordinality a(t, i) order by a.i),
       p.pronargdefaults,
       p.proretset,
       p.prorettype = 'pg_catalog.void'::pg_catalog.regtype,
       t.typtype = 'c'
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_type t on t.oid = p.prorettype
 where n.nspname = 'public' and p.proname = %s and p.prokind = 'f'
"""


def _function(row: tuple[Any, ...]) -> _Function:
    name, arg_names, arg_modes, input_types, n_defaults, returns_set, returns_void, composite = row
    if arg_modes:
        input_names = [n for n, m in zip(arg_names, arg_modes, strict=True) if m in ("i", "b", "v")]
    else:
        input_names = list(arg_names)
    inputs = list(zip(input_names, input_types, strict=True))
    required = frozenset(n for n, _ in inputs[: len(inputs) - n_defaults])
    return _Function(name, inputs, required, returns_set, returns_void, composite)


def _call_sql(fn: _Function, keys: set[str]) -> sql.Composable:
    args = [(name, typ) for name, typ in fn.inputs if name in keys]
    target = sql.Identifier("public", fn.name)
    call = sql.SQL("{}({})").format(
        target,
        sql.SQL(", ").join(
            sql.SQL("{} := _a.{}").format(sql.Identifier(n), sql.Identifier(n)) for n, _ in args
        ),
    )
    source = sql.SQL("")
    if args:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(typ)) for n, typ in args
        )
        source = sql.SQL("from json_to_record(%(body)s::json) as _a({})").format(columns)
    if fn.returns_set:
        lateral = sql.SQL(", lateral") if args else sql.SQL("from")
        return sql.SQL(
            "select coalesce(json_agg(_r), '[]'::json)::text from (select _f.* {} {} {} _f) _r"
        ).format(source, lateral, call)
    if fn.returns_composite:
        lateral = sql.SQL(", lateral") if args else sql.SQL("from")
        return sql.SQL("select row_to_json(_f)::text {} {} {} _f").format(source, lateral, call)
    if fn.returns_void:
        return sql.SQL("select {}::text {}").format(call, source)
    return sql.SQL("select to_json({})::text {}").format(call, source)


def _error(
    status: int, code: str | None, message: str, *, details: Any = None, hint: Any = None
) -> web.Response:
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", charset="utf-8"
    )


class PostgrestShim:
    """`with PostgrestShim(dsn, jwt_secret=...) as shim:` then point supabase-py at `shim.url`."""

    def __init__(self, dsn: str, *, jwt_secret: str, pool_size: int = 8, port: int = 0) -> None:
        self.dsn = dsn
        self.jwt_secret = jwt_secret
        self.pool_size = pool_size
        self.port = port
        self.calls: Counter[str] = Counter()
        self.delay_seconds = 0.0  # fault injection: answer this late (client timeouts)
        self._lock = threading.Lock()
        self._functions: dict[str, list[_Function]] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def key(self, role: str = "service_role") -> str:
        return make_key(self.jwt_secret, role)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> PostgrestShim:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._run, name="postgrest-shim", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("PostgREST shim did not start within 15 s")
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"PostgREST shim failed to start: {self._start_error}")
        return self

    def stop(self) -> None:
        """Close the listening socket and every database connection; `start()` reuses the port."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._thread = None

    def reload_schema(self) -> None:
        """Forget cached function signatures (PostgREST's `NOTIFY pgrst, 'reload schema'`)."""
        with self._lock:
            self._functions.clear()

    def __enter__(self) -> PostgrestShim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            loop.run_until_complete(self._shutdown())
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _serve(self) -> None:
        self._pool = asyncio.Queue()
        for _ in range(self.pool_size):
            self._pool.put_nowait(await self._connect())
        app = web.Application()
        app.router.add_post("/rest/v1/rpc/{fn}", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._pool is not None:
            while not self._pool.empty():
                conn = self._pool.get_nowait()
                with contextlib.suppress(Exception):
                    await conn.close()
            self._pool = None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=False)
        await conn.execute("set time zone 'UTC'")
        await conn.commit()
        return conn

    # -- the endpoint ----------------------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> tuple[str, dict[str, Any]] | web.Response:
        apikey = request.headers.get("apikey")
        if not apikey:
            return _error(
                401,
                None,
                "No API key found in request",
                hint="No `apikey` request header or url param was found.",
            )
        try:
            jwt.decode(apikey, self.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return _error(
                401,
                None,
                "Invalid API key",
                hint="Double check your Supabase `anon` or `service_role` API key.",
            )
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(
                401, "PGRST302", "Anonymous access is disabled", hint="Send Authorization: Bearer <key>"
            )
        try:
            claims = jwt.decode(auth.removeprefix("Bearer "), self.jwt_secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return _error(401, "PGRST303", "JWT expired")
        except jwt.PyJWTError as exc:
            return _error(401, "PGRST301", f"JWSError {type(exc).__name__}")
        role = claims.get("role")
        if not isinstance(role, str) or not role:
            return _error(401, "PGRST301", "JWT has no role claim")
        return role, claims

    async def _lookup(self, conn: psycopg.AsyncConnection[Any], name: str) -> list[_Function]:
        with self._lock:
            cached = self._functions.get(name)
        if cached is not None:
            return cached
        cursor = await conn.execute(_LOOKUP, (name,))
        found = [_function(row) for row in await cursor.fetchall()]
        await conn.rollback()
        if found:
            with self._lock:
                self._functions[name] = found
        return found

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        fn_name = request.match_info["fn"]
        with self._lock:
            self.calls[fn_name] += 1
        authenticated = self._authenticate(request)
        if isinstance(authenticated, web.Response):
            return authenticated
        role, claims = authenticated
        profile = request.headers.get("Content-Profile", "public")
        if profile != "public":
            return _error(406, "PGRST106", "The schema must be one of the following: public")
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _error(400, "PGRST102", "Empty or invalid json")
        if not isinstance(body, dict):
            return _error(400, "PGRST102", "Empty or invalid json")
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)

        assert self._pool is not None
        conn = await self._pool.get()
        try:
            return await self._execute(conn, fn_name, body, role=role, claims=claims)
        except psycopg.OperationalError as exc:
            # The database connection itself failed: PostgREST answers 503 and reconnects.
            with contextlib.suppress(Exception):
                await conn.close()
            conn = await self._connect()
            return _error(
                503, "PGRST000", "Database client error. Retrying the connection.", details=str(exc)
            )
        finally:
            self._pool.put_nowait(conn)

    async def _execute(
        self,
        conn: psycopg.AsyncConnection[Any],
        fn_name: str,
        body: dict[str, Any],
        *,
        role: str,
        claims: dict[str, Any],
    ) -> web.Response:
        keys = set(body)
        candidates = [fn for fn in await self._lookup(conn, fn_name) if fn.accepts(keys)]
        if not candidates:
            params = ", ".join(sorted(keys))
            return _error(
                404,
                "PGRST202",
                f"Could not find the function public.{fn_name}({params}) in the schema cache",
                details=(
                    f"Searched for the function public.{fn_name} with parameters {params or '(none)'} "
                    "or with a single unnamed json/jsonb parameter, but no matches were found "
                    "in the schema cache."
                ),
                hint=None,
            )
        if len(candidates) > 1:
            return _error(
                300, "PGRST203", f"Could not choose the best candidate function for public.{fn_name}"
            )
        fn = candidates[0]
        try:
            async with conn.transaction():
                await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                await conn.execute(
                    "select set_config('request.jwt.claims', %s, true)",
                    (json.dumps(claims),),
                )
                params = {"body": json.dumps(body)} if keys else None
                cursor = await conn.execute(_call_sql(fn, keys), params)
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            if conn.closed or exc.sqlstate is None or exc.sqlstate.startswith("08"):
                raise psycopg.OperationalError(str(exc)) from exc
            sqlstate = exc.sqlstate
            diag = exc.diag
            return _error(
                status_for(sqlstate, role=role),
                sqlstate,
                diag.message_primary or str(exc),
                details=diag.message_detail,
                hint=diag.message_hint,
            )
        if fn.returns_void:
            return web.Response(status=204)
        text = row[0] if row is not None and row[0] is not None else "null"
        return web.Response(status=200, text=text, content_type="application/json", charset="utf-8")


def main() -> None:
    """`python -m tests.fakes.postgrest DSN JWT_SECRET`: serve in this process (its own GIL, like a
    real server) until stdin closes; prints the URL first."""
    import sys

    dsn, secret = sys.argv[1], sys.argv[2]
    with PostgrestShim(dsn, jwt_secret=secret) as shim:
        print(shim.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
