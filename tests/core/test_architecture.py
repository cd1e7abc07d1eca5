"""Boundaries the design depends on."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_CORE = (
    "slack_bolt",
    "slack_sdk",
    "discord",
    "fastapi",
    "uvicorn",
    "starlette",
    "bot",
    "adapters",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_platform_sdk_or_outer_layer() -> None:
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in FORBIDDEN_IN_CORE:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


# What a front door may not reach: the process wiring above it, and the core's parts behind the
# Assistant facade (storage, memory, the writer, the jobs). Everything it needs is on the facade.
FORBIDDEN_IN_ADAPTERS = (
    "bot",
    "core.storage",
    "core.storage_sqlite",
    "core.storage_supabase",
    "core.memory",
    "core.memory_writer",
    "core.vector_store",
    "core.vector_store_postgres",
    "core.jobs",
    "core.erasure",
    "core.orchestrator",
)


def _is_under(name: str, forbidden: str) -> bool:
    return name == forbidden or name.startswith(forbidden + ".")


def test_adapters_import_neither_bot_nor_the_core_behind_its_facade() -> None:
    offenders = []
    for path in sorted((ROOT / "adapters").rglob("*.py")):
        for name in imported_modules(path):
            if any(_is_under(name, forbidden) for forbidden in FORBIDDEN_IN_ADAPTERS):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_check_would_catch_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import slack_bolt\nfrom discord import Client\nfrom bot.wiring import Core\n")
    assert {"slack_bolt", "discord", "bot.wiring"} <= imported_modules(bad)
    assert _is_under("core.storage", "core.storage")
    assert _is_under("core.memory.service", "core.memory")
    assert not _is_under("core.memory_item", "core.memory")


def test_tests_do_not_mock_our_code() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if "unittest.mock" in p.read_text() or "mock.patch" in p.read_text()
    ]
    assert offenders == [str(Path(__file__).relative_to(ROOT))]  # only this file names them
