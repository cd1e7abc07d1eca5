"""The /v1 endpoints, one APIRouter per resource (assembled by adapters/http/api.py):

- auth.py: GET /auth/me, the caller's account; sign-up, sign-in, refresh and sign-out through
  Supabase Auth;
- chat.py: POST /chat, idempotent, as JSON or streamed as server-sent events;
- sessions.py: the caller's web sessions and their messages;
- memory.py: the memory profile (the same commands as `/memory` on Slack and Discord);
- links.py: linking this web identity with Slack and Discord (issue 8);
- fallback.py: anything else under /v1, answered in the API's error shape (404/405).
"""

# Every route here is served under this prefix (a new version would get its own package).
PREFIX = "/v1"
