"""The /v1 OpenAPI document is a contract with the web and mobile clients (and their generated SDKs):
paths, operation ids, parameters, schemas and error responses are compared with a reviewed
snapshot (openapi_v1.json next to this file), so a refactor cannot change them unnoticed.

When the API changes on purpose, the failure writes the new document next to the test's tmp_path:
review the diff and copy it over the snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from adapters.http.api import build_api_router
from tests.adapters.http.conftest import Api

SNAPSHOT = Path(__file__).with_name("openapi_v1.json")


def v1_document(api: Api) -> dict[str, Any]:
    # A bare app: only the /v1 router, so changes to the web app's own routes (health) do not count.
    app = FastAPI(title="Mnemo HTTP API", version="1")
    app.include_router(build_api_router(api.core.assistant, api.settings))
    return app.openapi()


async def test_the_openapi_document_matches_the_reviewed_snapshot(api: Api, tmp_path: Path) -> None:
    document = v1_document(api)
    actual = tmp_path / SNAPSHOT.name
    actual.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert document == expected, f"the /v1 OpenAPI document changed: diff {SNAPSHOT} {actual}"


async def test_the_snapshot_documents_every_operation_and_its_errors(api: Api) -> None:
    """Guards the snapshot itself: a truncated or hand-edited file would make the test above weak."""
    expected = json.loads(SNAPSHOT.read_text())
    operations = {(method.upper(), path) for path, item in expected["paths"].items() for method in item}
    assert len(operations) == 18
    assert all(path.startswith("/v1/") for _, path in operations)
    for path, item in expected["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"], (method, path)
            assert {"401", "422", "429", "503"} <= set(operation["responses"]), (method, path)
    assert "ErrorBody" in expected["components"]["schemas"]


async def test_the_sign_in_operations_say_which_settings_enable_them(api: Api) -> None:
    """Documented whether or not this server has them: a client learns what a 501 means."""
    expected = json.loads(SNAPSHOT.read_text())
    for name in ("signup", "login", "refresh", "logout"):
        operation = expected["paths"][f"/v1/auth/{name}"]["post"]
        description = operation["responses"]["501"]["description"]
        assert "SUPABASE_URL" in description, name
        assert "SUPABASE_ANON_KEY" in description, name
        assert "auth_unavailable" in operation["responses"]["503"]["description"], name
    assert v1_document(api) == expected  # this server has neither setting: the same document
