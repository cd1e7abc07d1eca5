"""Builds the core from settings. Everything opened here is closed by the same AsyncExitStack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from config import Settings
from core.access import AccessPolicy, PlatformLists
from core.admission import Admission
from core.assistant import Assistant
from core.budget import Budget, BudgetLimits
from core.channel_settings import load_channel_settings
from core.clock import utc_now
from core.commands import MemoryCommands
from core.erasure import Removals
from core.intake.model import Intake
from core.intake.sqlite import SQLiteIntake
from core.limits_postgres import PostgresLimits
from core.linking import LinkService
from core.llm import ChatModel, OpenAIChatModel
from core.memory.mem0_setup import Mem0Options
from core.memory.service import Mem0Memory, MemoryService
from core.memory.writer import MemoryWriter
from core.orchestrator import Orchestrator, OrchestratorOptions
from core.storage import Store
from core.storage.sqlite import SQLiteStore

log = logging.getLogger(__name__)

# Recent turns in each prompt: 8 exchanges. Older context comes back through recalled memories, which
# keeps prompts flat over long sessions (bench/prompt_growth.py).
HISTORY_LIMIT = 16


@dataclass
class Core:
    settings: Settings
    store: Store
    memory: MemoryService
    model: ChatModel
    writer: MemoryWriter
    orchestrator: Orchestrator
    commands: MemoryCommands
    clock: Callable[[], datetime]
    links: LinkService
    removals: Removals
    admission: Admission
    # What the front doors get: the core's one facade (adapters never see the rest).
    assistant: Assistant
    # Accepted events waiting for a worker (core.intake).
    intake: Intake
    # Limits shared by every process (core.limits), with SUPABASE_DB_URL; None: each process its own.
    limits: PostgresLimits | None = None

    async def shutdown(self, grace_seconds: float) -> None:
        """Stop taking messages, let in-flight replies finish, then flush memory writes, all within
        `grace_seconds` in total (platforms kill a process soon after SIGTERM; writes that do not
        fit are kept in the store for the retry job)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        self.orchestrator.stop_accepting()
        if not await self.orchestrator.wait_idle(grace_seconds):
            log.warning("replies still in flight after %.1fs", grace_seconds)
        await self.writer.drain(timeout=max(0.0, deadline - loop.time()))


async def open_store(settings: Settings) -> Store:
    if settings.supabase_enabled:
        from core.storage.supabase import SupabaseStore

        return await SupabaseStore.open(settings)
    return await SQLiteStore.open(settings.data_dir / "mnemo.db")


async def open_intake(settings: Settings, clock: Callable[[], datetime]) -> Intake:
    """Where accepted events wait for a worker: with SUPABASE_DB_URL, procrastinate's queue in that
    database (any number of processes and machines); otherwise a SQLite file in DATA_DIR (shared by
    the processes of this machine)."""
    if settings.supabase_db_url is not None:
        from core.intake.postgres import PostgresIntake

        return await PostgresIntake.open(settings.supabase_db_url.get_secret_value(), clock=clock)
    return await SQLiteIntake.open(settings.data_dir / "intake.db", clock=clock)


async def open_limits(settings: Settings) -> PostgresLimits | None:
    """With SUPABASE_DB_URL, the HTTP API's rate limits and the admission cap live in that database
    (shared by every process); otherwise each process keeps its own."""
    if settings.supabase_db_url is None:
        return None
    return await PostgresLimits.open(settings.supabase_db_url.get_secret_value())


def mem0_options(settings: Settings) -> Mem0Options:
    return Mem0Options(
        data_dir=settings.data_dir,
        base_url=settings.openai_base_url,
        api_key=_api_key(settings),
        llm_model=settings.effective_memory_model,
        embedding_model=settings.embedding_model,
        embedding_dims=settings.embedding_dims,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        update_by_model=settings.memory_update_by_model,
        # With it, mem0's vectors live in Postgres (shared by every machine), not in DATA_DIR.
        vector_db_url=settings.supabase_db_url.get_secret_value() if settings.supabase_db_url else None,
    )


def access_policy(settings: Settings) -> AccessPolicy:
    return AccessPolicy(
        slack=PlatformLists(
            allowed_channels=settings.slack_allowed_channels,
            allowed_users=settings.slack_allowed_users,
            blocked_channels=settings.slack_blocked_channels or frozenset(),
            blocked_users=settings.slack_blocked_users or frozenset(),
        ),
        discord=PlatformLists(
            allowed_channels=settings.discord_allowed_channels,
            allowed_users=settings.discord_allowed_users,
            allowed_roles=settings.discord_allowed_roles,
            blocked_channels=settings.discord_blocked_channels or frozenset(),
            blocked_users=settings.discord_blocked_users or frozenset(),
            blocked_roles=settings.discord_blocked_roles or frozenset(),
        ),
        allow_dms=settings.allow_dms,
    )


def _api_key(settings: Settings) -> str:
    # Local OpenAI-compatible servers (Ollama, vLLM) accept any key; the SDK insists on one.
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"


@asynccontextmanager
async def build_core(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now, check_embedding: bool = True
) -> AsyncIterator[Core]:
    """`check_embedding=False` skips the refusal of an embedding model/size other than the stored
    vectors' (core.memory.embedding_record): admin erase and export must work even then."""
    # A bad channel settings file stops start-up with one line, before anything is opened.
    channels = load_channel_settings(settings.channel_settings_file)
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        intake = await open_intake(settings, clock)
        stack.push_async_callback(intake.close)
        limits = await open_limits(settings)
        if limits is not None:
            stack.push_async_callback(limits.close)
        options = replace(mem0_options(settings), check_embedding=check_embedding)
        memory = await asyncio.to_thread(Mem0Memory.build, options)
        stack.push_async_callback(memory.close)
        daily = BudgetLimits(
            per_person=settings.daily_token_budget_per_person,
            per_workspace=settings.daily_token_budget_per_workspace,
        )
        budget = Budget(store=store, limits=daily, clock=clock)
        memory.on_usage = budget.record_extraction
        model = OpenAIChatModel(
            base_url=settings.openai_base_url,
            api_key=_api_key(settings),
            model=settings.chat_model,
            max_tokens=settings.max_reply_tokens,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
        )
        stack.push_async_callback(model.close)
        writer = MemoryWriter(
            memory=memory,
            store=store,
            clock=clock,
            queue_size=settings.memory_write_queue_size,
            workers=settings.memory_write_workers,
        )
        writer.start()
        stack.push_async_callback(writer.drain, settings.shutdown_grace_seconds)
        admission = Admission(
            max_concurrent=settings.max_concurrent_replies,
            max_waiting=settings.max_waiting_replies,
            shared=limits if settings.max_concurrent_replies_total else None,
            shared_limit=settings.max_concurrent_replies_total,
        )
        admission.start()
        stack.push_async_callback(admission.stop)
        orchestrator = Orchestrator(
            store=store,
            memory=memory,
            model=model,
            writer=writer,
            admission=admission,
            options=OrchestratorOptions(
                bot_name=settings.bot_name,
                idle_timeout=timedelta(minutes=settings.session_idle_minutes),
                recall_limit=settings.memory_recall_limit,
                history_limit=HISTORY_LIMIT,
                prompt_token_budget=settings.prompt_token_budget,
                reply_tokens=settings.max_reply_tokens,
                system_prompt=settings.system_prompt,
                memory_prompt_tokens=settings.memory_prompt_tokens,
            ),
            clock=clock,
            access=access_policy(settings),
            budget=budget,
            channels=channels,
        )
        links = LinkService(store=store, memory=memory, clock=clock)
        removals = Removals(store=store, memory=memory, writer=writer, intake=intake)
        commands = MemoryCommands(store=store, memory=memory, removals=removals, links=links, budget=budget)
        assistant = Assistant(
            intake=intake,
            orchestrator=orchestrator,
            commands=commands,
            links=links,
            removals=removals,
            store=store,
            memory=memory,
            clock=clock,
            writer=writer,
        )
        yield Core(
            settings,
            store,
            memory,
            model,
            writer,
            orchestrator,
            commands,
            clock,
            links,
            removals,
            admission,
            assistant,
            intake,
            limits,
        )
