"""Durable intake: every accepted event is recorded before it is acknowledged, and answered by some
worker at least once (visibly once), even if a process dies while answering it.

A front door (web process) turns a platform event into a `NewDelivery` and `accept`s it: one durable
insert, deduplicated by the delivery's key (a retry or a second copy of the same event is refused).
Then it acknowledges. Workers `serve` deliveries: each is leased to one worker at a time, one at a
time per lane (a conversation) in arrival order; a worker that dies leaves its lease to expire and
another worker (or the same one after a restart) takes the delivery over within seconds.

Embedded (the default): the inbox is a SQLite file in DATA_DIR (core.intake.sqlite), shared by the
processes on that machine. With Postgres (SUPABASE_DB_URL): procrastinate, a maintained Postgres
job queue, over that database (core.intake.postgres); any number of web and worker processes on any
number of machines.

What the delivery holds (the platform payload, with the person's words) is kept only until it is
answered (core.erasure lists it).
"""
