"""The run store's schema, as sqlite-utils migrations (set ``orc.store``). Never edit an applied one; add one."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("orc.store")

_METRICS = {
    "cost_usd": float,
    "input_tokens": int,
    "output_tokens": int,
    "cache_read_tokens": int,
    "cache_creation_tokens": int,
}


@migrations()
def m001_initial(db: Database) -> None:
    # The walking skeleton's store (#3): a task, its plan's subtasks, the agents that ran them and every event
    # they emitted, written as it happens so a run killed half-way keeps what came before the kill.
    db.table("tasks").create(
        {
            "id": str,
            "prompt": str,
            "task_type": str,
            "mode": str,
            "cwd": str,
            "status": str,
            "plan": str,
            "success": int,
            "output": str,
            "error": str,
            **_METRICS,
            "created_at": str,
            "finished_at": str,
        },
        pk="id",
    )
    db.table("subtasks").create(
        {
            "id": str,
            "task_id": str,
            "subtask_id": str,
            "role": str,
            "instruction": str,
            "depends_on": str,
            "status": str,
            "agent_id": str,
            "output": str,
            "error": str,
            **_METRICS,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("agents").create(
        {
            "id": str,
            "task_id": str,
            "name": str,
            "role": str,
            "status": str,
            "session_id": str,
            "model": str,
            "cwd": str,
            "pid": int,
            **_METRICS,
            "messages": int,
            "tool_calls": int,
            "files_read": int,
            "files_written": int,
            "duration_s": float,
            "context_used": int,
            "context_window": int,
            "created_at": str,
            "updated_at": str,
            "deleted_at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("events").create(
        {"id": int, "task_id": str, "agent_id": str, "seq": int, "ts": str, "kind": str, "payload": str},
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("subtasks").create_index(["task_id"])
    db.table("agents").create_index(["task_id"])
    db.table("agents").create_index(["role"])
    db.table("events").create_index(["agent_id", "seq"], unique=True)
    db.table("events").create_index(["task_id"])
    db.table("events").create_index(["kind"])


@migrations()
def m002_agent_started(db: Database) -> None:
    # An agent can be resumed from a later `orc` process (#5): that process must know whether the session has
    # already taken a turn (resume it) or not (open it with the id orc chose). Rows written before this migration
    # get started = 1 when the agent has a recorded turn result, else 0.
    db.table("agents").add_column("started", int)
    db.execute(
        "update agents set started = exists(select 1 from events where events.agent_id = agents.id "
        "and events.kind = 'result')"
    )


@migrations()
def m003_messages(db: Database) -> None:
    # Every message to and from an agent, searchable (#6). The raw `events` table keeps them too, as JSON; this
    # table holds the text as a column so FTS5 can index it and Datasette can show it. Messages already recorded
    # as events are copied in, so old runs are searchable as well.
    db.table("messages").create(
        {"id": int, "task_id": str, "agent_id": str, "seq": int, "role": str, "text": str, "ts": str},
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("messages").create_index(["agent_id", "seq"])
    db.table("messages").create_index(["task_id"])
    db.table("messages").enable_fts(["text"], create_triggers=True)
    db.execute(
        "insert into messages (task_id, agent_id, seq, role, text, ts) "
        "select task_id, agent_id, seq, json_extract(payload, '$.role'), json_extract(payload, '$.text'), ts "
        "from events where kind = 'message' order by id"
    )


@migrations()
def m004_tool_calls(db: Database) -> None:
    # One row per tool call (#6), keyed by the model's tool_use_id: the call event fills name and input, the
    # result event (paired by the same id) fills the result summary, the error flag and the duration. Calls
    # recorded before this migration are paired from the events table.
    db.table("tool_calls").create(
        {
            "id": str,
            "task_id": str,
            "agent_id": str,
            "seq": int,
            "name": str,
            "input": str,
            "result": str,
            "is_error": int,
            "duration_ms": int,
            "called_at": str,
            "finished_at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("tool_calls").create_index(["agent_id", "seq"])
    db.table("tool_calls").create_index(["task_id"])
    db.table("tool_calls").create_index(["name"])
    db.execute(
        "insert or ignore into tool_calls (id, task_id, agent_id, seq, name, input, called_at) "
        "select json_extract(payload, '$.tool_use_id'), task_id, agent_id, seq, json_extract(payload, '$.name'), "
        "json_extract(payload, '$.input'), ts from events where kind = 'tool_call' order by id"
    )
    db.execute(
        "update tool_calls set (result, is_error, duration_ms, finished_at) = ("
        "select json_extract(payload, '$.content'), json_extract(payload, '$.is_error'), "
        "json_extract(payload, '$.duration_ms'), ts from events "
        "where kind = 'tool_result' and json_extract(payload, '$.tool_use_id') = tool_calls.id)"
    )


@migrations()
def m005_file_accesses(db: Database) -> None:
    # Which files each agent read, wrote, edited or searched (#6): the facts behind "files consumed vs
    # produced". `operation` is read, write, edit or search; `tool_call_id` points at the call that did it.
    # Accesses recorded as events before this migration are copied in.
    db.table("file_accesses").create(
        {
            "id": int,
            "task_id": str,
            "agent_id": str,
            "tool_call_id": str,
            "path": str,
            "operation": str,
            "tool": str,
            "at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("file_accesses").create_index(["agent_id"])
    db.table("file_accesses").create_index(["task_id"])
    db.table("file_accesses").create_index(["path"])
    db.execute(
        "insert into file_accesses (task_id, agent_id, tool_call_id, path, operation, tool, at) "
        "select task_id, agent_id, json_extract(payload, '$.tool_use_id'), json_extract(payload, '$.path'), "
        "json_extract(payload, '$.operation'), json_extract(payload, '$.tool'), ts "
        "from events where kind = 'file_access' order by id"
    )


@migrations()
def m006_usage_and_context(db: Database) -> None:
    # Accounting per turn (#6): `usage` holds each turn's tokens and cost exactly as the SDK reported them (the
    # agents row holds their running sum), and `context_samples` the context size after each turn, a time series
    # per agent (#5). Turns recorded as events before this migration are copied in.
    db.table("usage").create(
        {
            "id": int,
            "task_id": str,
            "agent_id": str,
            "seq": int,
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_tokens": int,
            "cache_creation_tokens": int,
            "cost_usd": float,
            "session_cost_usd": float,
            "at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("context_samples").create(
        {
            "id": int,
            "task_id": str,
            "agent_id": str,
            "seq": int,
            "used_tokens": int,
            "window_tokens": int,
            "usage_percentage": float,
            "at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    for table in ("usage", "context_samples"):
        db.table(table).create_index(["agent_id", "seq"])
        db.table(table).create_index(["task_id"])
    fields = (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "cost_usd",
        "session_cost_usd",
    )
    db.execute(
        f"insert into usage (task_id, agent_id, seq, {', '.join(fields)}, at) select task_id, agent_id, seq, "
        + ", ".join(f"json_extract(payload, '$.{f}')" for f in fields)
        + ", ts from events where kind = 'usage' order by id"
    )
    db.execute(
        "insert into context_samples (task_id, agent_id, seq, used_tokens, window_tokens, usage_percentage, at) "
        "select task_id, agent_id, seq, json_extract(payload, '$.used_tokens'), "
        "json_extract(payload, '$.window_tokens'), json_extract(payload, '$.usage_percentage'), ts "
        "from events where kind = 'context' order by id"
    )


@migrations()
def m007_status_snapshots_and_flags(db: Database) -> None:
    # The periodic status checks of a running task (`orc_status`) and what the monitor or a policy flagged about an
    # agent (`orc_agent_flagged`: stall, loop, context, ...), both new hooks (#6). No earlier rows exist for them.
    db.table("status_snapshots").create(
        {
            "id": int,
            "task_id": str,
            "ts": str,
            "elapsed_s": float,
            "cost_usd": float,
            "total_tokens": int,
            "agents": str,
            "subtasks": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("status_snapshots").create_index(["task_id", "ts"])
    db.table("agent_flags").create(
        {"id": int, "task_id": str, "agent_id": str, "kind": str, "message": str, "at": str},
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("agent_flags").create_index(["agent_id"])
    db.table("agent_flags").create_index(["kind"])


@migrations()
def m008_views(db: Database) -> None:
    # Readable views for people and for Datasette (#6). They read the tables above and hold no data, so they can
    # be replaced by a later migration without touching any row. Token sums are NULL where cost tracking was off.
    tokens = "input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens"
    db.create_view(
        "cost_by_role",
        f"""select role, count(*) as agents, sum(cost_usd) as cost_usd, sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens, sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_creation_tokens) as cache_creation_tokens, sum({tokens}) as total_tokens
        from agents group by role order by cost_usd desc, role""",
    )
    db.create_view(
        "agent_totals",
        f"""select a.id as agent_id, a.name, a.role, a.status, a.task_id, a.model, a.cost_usd,
        {tokens} as total_tokens, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_creation_tokens,
        a.context_used, a.context_window,
        (select count(*) from messages m where m.agent_id = a.id) as messages,
        (select count(*) from tool_calls t where t.agent_id = a.id) as tool_calls,
        (select count(*) from tool_calls t where t.agent_id = a.id and t.is_error) as tool_errors,
        (select count(distinct path) from file_accesses f where f.agent_id = a.id and f.operation = 'read')
            as files_read,
        (select count(distinct path) from file_accesses f where f.agent_id = a.id
            and f.operation in ('write', 'edit')) as files_written,
        (select count(*) from usage u where u.agent_id = a.id) as turns,
        a.created_at, a.deleted_at
        from agents a""",
    )
    db.create_view(
        "task_totals",
        f"""select t.id as task_id, t.status, t.task_type, t.mode, t.prompt,
        (select count(*) from subtasks s where s.task_id = t.id) as subtasks,
        (select count(*) from subtasks s where s.task_id = t.id and s.status = 'succeeded') as succeeded,
        (select count(*) from subtasks s where s.task_id = t.id and s.status in ('failed', 'skipped', 'cancelled'))
            as not_succeeded,
        (select count(*) from agents a where a.task_id = t.id) as agents,
        (select sum(a.cost_usd) from agents a where a.task_id = t.id) as cost_usd,
        (select sum({tokens}) from agents a where a.task_id = t.id) as total_tokens,
        (select count(distinct path) from file_accesses f where f.task_id = t.id and f.operation = 'read')
            as files_read,
        (select count(distinct path) from file_accesses f where f.task_id = t.id
            and f.operation in ('write', 'edit')) as files_written,
        t.created_at, t.finished_at
        from tasks t""",
    )
    consumed = "count(distinct case when f.operation = 'read' then f.path end)"
    produced = "count(distinct case when f.operation in ('write', 'edit') then f.path end)"
    searched = "count(distinct case when f.operation = 'search' then f.path end)"
    db.create_view(
        "files_consumed_vs_produced",
        f"""select 'agent' as scope, f.task_id, f.agent_id, a.role, {consumed} as files_consumed,
        {produced} as files_produced, {searched} as paths_searched
        from file_accesses f left join agents a on a.id = f.agent_id group by f.task_id, f.agent_id
        union all
        select 'task' as scope, f.task_id, null as agent_id, null as role, {consumed} as files_consumed,
        {produced} as files_produced, {searched} as paths_searched
        from file_accesses f group by f.task_id""",
    )
    db.create_view(
        "fleet_status",
        f"""select role, status, count(*) as agents, sum(cost_usd) as cost_usd, sum({tokens}) as total_tokens
        from agents group by role, status order by role, status""",
    )


@migrations()
def m009_agent_custom_role(db: Database) -> None:
    # A custom agent (AgentRole.CUSTOM) carries its own role: prompt, tools, permission mode (#5). A later process
    # resuming it has no plugin that registered that role, so the store keeps it as JSON. Older rows get NULL:
    # they were all agents of registered roles.
    db.table("agents").add_column("custom_role", str)


@migrations()
def m010_agent_parent(db: Database) -> None:
    # The orchestrator agent creates agents of its own (#13): each records its parent, so the store holds the agent
    # tree. Older rows get NULL (no parent); the notice events that named children before this stay as they are.
    db.table("agents").add_column("parent_id", str)
    db.table("agents").create_index(["parent_id"])


@migrations()
def m011_agent_totals_messages(db: Database) -> None:
    # agent_totals.messages counted message rows (the prompt, each text block), while the agent's own count is of
    # model responses (#17). The view now shows the agent's count, the same number orc prints; the message rows
    # stay in the messages table. The rest of the view is m008's.
    tokens = "input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens"
    db.create_view(
        "agent_totals",
        f"""select a.id as agent_id, a.name, a.role, a.status, a.task_id, a.model, a.cost_usd,
        {tokens} as total_tokens, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_creation_tokens,
        a.context_used, a.context_window,
        a.messages as messages,
        (select count(*) from tool_calls t where t.agent_id = a.id) as tool_calls,
        (select count(*) from tool_calls t where t.agent_id = a.id and t.is_error) as tool_errors,
        (select count(distinct path) from file_accesses f where f.agent_id = a.id and f.operation = 'read')
            as files_read,
        (select count(distinct path) from file_accesses f where f.agent_id = a.id
            and f.operation in ('write', 'edit')) as files_written,
        (select count(*) from usage u where u.agent_id = a.id) as turns,
        a.created_at, a.deleted_at
        from agents a""",
        replace=True,
    )


@migrations()
def m012_list_indexes_and_session_model(db: Database) -> None:
    # Big stores (#20): the list commands show a page of the newest rows, by status, role, task or age. These
    # indexes let SQLite walk the newest rows in order and stop at the page instead of sorting every row; the
    # views' per-row totals are then computed for that page only.
    # The id ends each index: it breaks ties between rows made in the same microsecond, in the same order.
    for table, filters in (
        ("tasks", ((), ("status",))),
        ("agents", ((), ("role",), ("status",), ("task_id",))),
    ):
        for columns in filters:
            db.table(table).create_index([*columns, "created_at", "id"], if_not_exists=True)
    # `orc status` sums every agent's cost and tokens by role and status, and counts the distinct files read and
    # written: these two covering indexes answer both without reading the tables' rows.
    db.table("agents").create_index(
        [
            "role",
            "status",
            "cost_usd",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_creation_tokens",
        ],
        if_not_exists=True,
    )
    db.table("file_accesses").create_index(["operation", "path"], if_not_exists=True)
    # The `model` column stayed empty for agents whose role named no model, although the session's first event
    # says which model the CLI chose (#20). The session event now fills it when it is empty (a model the agent
    # was given is kept); rows written before this migration are filled from their recorded session events.
    # Stores written with ENABLE_OBSERVABILITY off record no events and keep an empty model.
    db.execute(
        """create trigger if not exists events_session_model after insert on events
        when new.kind = 'session' and json_extract(new.payload, '$.model') is not null
        begin
            update agents set model = json_extract(new.payload, '$.model')
            where id = new.agent_id and model is null;
        end"""
    )
    db.execute(
        "update agents set model = (select json_extract(e.payload, '$.model') from events e "
        "where e.agent_id = agents.id and e.kind = 'session' order by e.seq limit 1) where model is null"
    )


@migrations()
def m013_task_limits_and_pid(db: Database) -> None:
    # Resuming a task must run it under the limits it was started with (#17: a task run with --max-parallel 2 was
    # resumed with 5 agents at once), and `orc watch` must tell a task whose process died from one still running.
    # So a task keeps its limits (JSON: Config attribute -> value) and the pid of the process running it. Older rows
    # get NULL for both: resumed, they run under the settings of the resuming process; watched, only their status
    # tells when they end.
    db.table("tasks").add_column("limits", str)
    db.table("tasks").add_column("pid", int)


@migrations()
def m014_mission_control_indexes(db: Database) -> None:
    # Mission control (`orc browse`, #22) reads one task's or one agent's rows, files by agent and the tasks by
    # status (m012's indexes list them newest first); on a store of 100,000 agents the per-agent views
    # (agent_totals, files_consumed_vs_produced) took over a second a page. These indexes serve those reads
    # (covering where they can), and Datasette's own table of subtasks listed newest first; no row changes.
    db.table("file_accesses").create_index(["task_id", "agent_id", "operation", "path"], if_not_exists=True)
    db.table("file_accesses").create_index(["agent_id", "operation", "path"], if_not_exists=True)
    db.table("tool_calls").create_index(["agent_id", "is_error"], if_not_exists=True)
    db.table("agent_flags").create_index(["task_id"], if_not_exists=True)
    db.table("subtasks").create_index(["agent_id"], if_not_exists=True)
    db.table("subtasks").create_index(["started_at"], if_not_exists=True)


@migrations()
def m015_money_without_float_noise(db: Database) -> None:
    # Summed costs showed the noise of binary floats (49.99999999999862, 0.11499999999999999) in the views, in
    # Datasette and in what the Python API read from them (#19). The views now round each sum to 10 decimal places
    # (orchestrator_core's MONEY_DIGITS: finer than the price of one cached token, coarser than the noise). Rows keep
    # the cost each agent's turns added up to; the rest of each view is m008's.
    tokens = "input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens"
    db.create_view(
        "cost_by_role",
        f"""select role, count(*) as agents, round(sum(cost_usd), 10) as cost_usd, sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens, sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_creation_tokens) as cache_creation_tokens, sum({tokens}) as total_tokens
        from agents group by role order by cost_usd desc, role""",
        replace=True,
    )
    db.create_view(
        "task_totals",
        f"""select t.id as task_id, t.status, t.task_type, t.mode, t.prompt,
        (select count(*) from subtasks s where s.task_id = t.id) as subtasks,
        (select count(*) from subtasks s where s.task_id = t.id and s.status = 'succeeded') as succeeded,
        (select count(*) from subtasks s where s.task_id = t.id and s.status in ('failed', 'skipped', 'cancelled'))
            as not_succeeded,
        (select count(*) from agents a where a.task_id = t.id) as agents,
        (select round(sum(a.cost_usd), 10) from agents a where a.task_id = t.id) as cost_usd,
        (select sum({tokens}) from agents a where a.task_id = t.id) as total_tokens,
        (select count(distinct path) from file_accesses f where f.task_id = t.id and f.operation = 'read')
            as files_read,
        (select count(distinct path) from file_accesses f where f.task_id = t.id
            and f.operation in ('write', 'edit')) as files_written,
        t.created_at, t.finished_at
        from tasks t""",
        replace=True,
    )
    db.create_view(
        "fleet_status",
        f"""select role, status, count(*) as agents, round(sum(cost_usd), 10) as cost_usd,
        sum({tokens}) as total_tokens from agents group by role, status order by role, status""",
        replace=True,
    )


@migrations()
def m016_remembered_settings(db: Database) -> None:
    # `orc resume`, `orc agents send` and `orc agents delete` of a task or agent made with --scripted failed with
    # "no Claude credentials" unless --scripted was given again (#20). A task and an agent now keep the settings
    # that say how they run (those declared with remember=True, such as ORC_SCRIPTED), as JSON: setting name ->
    # value. Older rows get NULL: they run with the settings of the process that picks them up, as before.
    db.table("tasks").add_column("settings", str)
    db.table("agents").add_column("settings", str)


@migrations()
def m017_transcripts(db: Database) -> None:
    # An agent's conversation lived only in the Claude Code CLI's files on the machine that ran it (#25): a store
    # copied to another machine, or a Ray node lost mid-agent, could not continue it. Each session's transcript
    # lines are kept here as the session writes them (JSON, redacted like every row), in the order written (rowid),
    # keyed so a line sent twice is stored once; they go when the agent is deleted.
    db.table("transcripts").create(
        {"id": str, "agent_id": str, "session_id": str, "subpath": str, "entry": str, "at": str},
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
    )
    db.table("transcripts").create_index(["session_id", "subpath"], if_not_exists=True)
    db.table("transcripts").create_index(["agent_id"], if_not_exists=True)


@migrations()
def m018_retries(db: Database) -> None:
    # Rate limits made visible (#23): one row per model call that was refused and tried again, by the CLI itself
    # (its api_retry) or by orc's governor (which waits out a 429/529 and resends the same request, so the agent's
    # session never sees it), with the status, the wait, and for the governor the number of requests it allowed at
    # once after it. Retries recorded before this migration are copied from the events table; the view sums them
    # per agent (waits, retries) with the latest concurrency.
    db.table("retries").create(
        {
            "id": int,
            "task_id": str,
            "agent_id": str,
            "seq": int,
            "by": str,
            "error_status": int,
            "error": str,
            "attempt": int,
            "retry_delay_ms": int,
            "concurrency": int,
            "at": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id"), ("agent_id", "agents", "id")],
    )
    db.table("retries").create_index(["agent_id", "seq"])
    db.table("retries").create_index(["task_id", "at"])
    db.execute(
        "insert into retries (task_id, agent_id, seq, by, error_status, error, attempt, retry_delay_ms, "
        "concurrency, at) select task_id, agent_id, seq, coalesce(json_extract(payload, '$.by'), 'cli'), "
        "json_extract(payload, '$.error_status'), json_extract(payload, '$.error'), "
        "json_extract(payload, '$.attempt'), json_extract(payload, '$.retry_delay_ms'), "
        "json_extract(payload, '$.concurrency'), ts from events where kind = 'retry' order by id"
    )
    db.create_view(
        "throttling_by_agent",
        """select r.task_id, r.agent_id, count(*) as retries,
        sum(r.by = 'governor') as governor_retries, sum(r.by = 'cli') as cli_retries,
        round(sum(coalesce(r.retry_delay_ms, 0)) / 1000.0, 3) as waited_s,
        (select r2.concurrency from retries r2 where r2.agent_id = r.agent_id and r2.concurrency is not null
            order by r2.id desc limit 1) as concurrency,
        max(r.at) as last_at
        from retries r group by r.task_id, r.agent_id order by r.task_id, waited_s desc""",
        replace=True,
    )


@migrations()
def m019_files_read_are_distinct_paths(db: Database) -> None:
    # An agent row's files_read and files_written counted accesses (a file read three times counted three), while
    # the agent_totals and task_totals views counted distinct paths (#18). Both mean distinct paths now; the rows
    # written before are recounted from their file accesses. A row with no file access recorded keeps its count.
    db.execute(
        """update agents set
        files_read = (select count(distinct path) from file_accesses f
            where f.agent_id = agents.id and f.operation = 'read'),
        files_written = (select count(distinct path) from file_accesses f
            where f.agent_id = agents.id and f.operation in ('write', 'edit'))
        where exists (select 1 from file_accesses f where f.agent_id = agents.id)"""
    )


@migrations()
def m020_task_client(db: Database) -> None:
    # `orc mcp` (#26) runs tasks for MCP hosts; the store records which client started each one ("mcp: claude-code
    # 2.1.0"). NULL: the command line or the Python API, and every task from before.
    db.table("tasks").add_column("client", str)
