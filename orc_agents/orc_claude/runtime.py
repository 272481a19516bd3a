"""ClaudeRuntime: the default agent runtime, one claude-agent-sdk session per agent.

The first session of an agent opens with the id orc chose for it (``session_id=``); later ones, from this process
or a later one, resume it (``resume=``). With :attr:`ClaudeRuntime.transcripts` set (orc's store, #25), the session's
transcript is kept there as it is written, and a later session resumes from there, on any machine.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, get_args

from orchestrator_core import Agent, Config, Emit, Role, RuntimeUnavailable, UsageError
from orchestrator_core.secrets import redactor_for

from . import lifeline
from .confine import confinement_hook
from .credentials import config_dir, has_credentials
from .sandbox import bash_sandbox
from .session import ClaudeSession, session_lock
from .transcripts import StoreSessions, Transcripts
from .trust import trust_options

if TYPE_CHECKING:
    import anyio
    from claude_agent_sdk.types import PermissionMode


def permission_mode(role: Role) -> PermissionMode:
    """The role's permission mode as the SDK's type (``Role.problem`` refused any other when it was registered)."""
    from claude_agent_sdk.types import PermissionMode

    for mode in get_args(PermissionMode):
        if mode == role.permission_mode:
            return mode
    raise UsageError(
        f"role {role.name!r} has permission mode {role.permission_mode!r}, which the Claude SDK "
        f"does not know; use one of {', '.join(get_args(PermissionMode))}"
    )


#: The longest line (one message, as JSON) the SDK may read from the CLI.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: CLIs starting at once (each takes about half a CPU-second to start): started all together on a small machine,
#: none is ready until nearly all are, and some miss the SDK's start-up timeout; one per core, each is ready sooner.
STARTS_AT_ONCE = max(2, os.cpu_count() or 2)


class ClaudeRuntime:
    """The default :class:`~orchestrator_core.AgentRuntime`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        #: Callables ``(agent, role)`` returning None or an async context manager entered around that agent's
        #: session, which yields extra options: ``mcp_servers`` (in-process tools) and ``allowed_tools`` (their
        #: names), and ``env`` (variables for the CLI). The orchestrator agent gets its fleet tools this way (#13),
        #: the governor its own ``ANTHROPIC_BASE_URL`` per agent (#23).
        self.session_extras: list[
            Callable[[Agent, Role], AbstractAsyncContextManager[dict[str, Any]] | None]
        ] = []
        #: Where agents' transcripts are kept besides the CLI's own files (orc's store, set by the plugin when
        #: the Orchestrator starts; a Ray node's relay to the head), or None: the CLI's files only.
        self.transcripts: Transcripts | None = None
        self._starts: anyio.Semaphore | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment the CLI will see: this process's, with the run's additions on top."""
        return {**os.environ, **self.config.runtime_env}

    def check(self) -> None:
        if not has_credentials(self.env):
            raise RuntimeUnavailable(
                "no Claude credentials: set ANTHROPIC_API_KEY or log in with the Claude CLI (`claude` then /login); "
                "or see orc work offline with orc's scripted model: `orc execute --scripted ...`, or ORC_SCRIPTED=1 "
                "(Orchestrator(scripted=True) in Python)"
            )

    def options(
        self,
        agent: Agent,
        role: Role,
        stderr_lines: deque[str],
        max_budget_usd: float | None,
        extra: dict[str, Any] | None = None,
        resume: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Any:
        """The SDK options of the agent's session; ``resume`` (default: ``agent.session_started``) continues its
        transcript, else the session opens with the id orc chose."""
        from claude_agent_sdk import ClaudeAgentOptions

        extra = extra or {}
        extra_env = dict(extra.get("env", {}))
        resumes = agent.session_started if resume is None else resume
        return ClaudeAgentOptions(
            cwd=agent.cwd,
            system_prompt=role.system_prompt,
            tools=list(role.tools),
            # The role's tools are exactly what it may use: pre-approve them all (FACTS §2: allowed_tools only
            # approves, tools= decides what the model sees).
            allowed_tools=[*role.tools, *extra.get("allowed_tools", ())],
            mcp_servers=dict(extra.get("mcp_servers", {})),
            permission_mode=permission_mode(role),
            model=agent.model,
            max_turns=role.max_turns,
            max_budget_usd=max_budget_usd,
            # What plugins add (orc_agent_environment: a tracer's TRACEPARENT) under the run's own environment;
            # a session extra's (the governor's relay address) over it.
            env={**(env or {}), **self.config.runtime_env, **extra_env, **_output_limit(role)},
            # The repository is data: its settings, hooks, MCP servers and CLAUDE.md only with the user's opt-in.
            **trust_options(self.config, {**self.env, **extra_env}),
            sandbox=bash_sandbox(self.config, role, self.env),
            stderr=stderr_lines.append,
            # Each message the CLI streams is one JSON line, an answer's whole text in it: the SDK's 1 MB default
            # failed a 10 MB answer (#17). Memory follows the message, not this bound.
            max_buffer_size=MAX_MESSAGE_BYTES,
            cli_path=lifeline.cli_path(),
            add_dirs=list(self.config.add_dirs),
            hooks=confinement_hook(agent.cwd, self.config.add_dirs),
            # Resumed by its id, else opened with the id orc chose (either one, never both).
            resume=agent.session_id if resumes else None,
            session_id=None if resumes else agent.session_id,
            # Kept in orc's store line by line as the CLI writes them ("eager": a killed orc loses none), and
            # resumed from there: the SDK writes the kept lines to a temporary config folder the CLI resumes from.
            **self._kept(agent),
        )

    def _kept(self, agent: Agent) -> dict[str, Any]:
        if self.transcripts is None:
            return {}
        store = StoreSessions(agent, self.transcripts, redactor_for(self.config.runtime_env))
        return {"session_store": store, "session_store_flush": "eager"}

    @contextlib.asynccontextmanager
    async def session(
        self,
        agent: Agent,
        role: Role,
        emit: Emit,
        *,
        max_budget_usd: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AsyncIterator[ClaudeSession]:
        stderr_lines: deque[str] = deque(maxlen=20)
        async with contextlib.AsyncExitStack() as stack:
            # One process at a time per session, across processes too: a second sender gets "busy" at once.
            stack.enter_context(
                session_lock(agent, "another process is talking to it; try again when it is done")
            )
            # Decided under the lock, from the transcript itself (#17): a first turn cut short (Ctrl-C, SIGTERM)
            # after the CLI created the transcript must be resumed, or the CLI says "Session ID already in use".
            transcript = self.has_session(agent)
            if agent.session_started and not transcript:
                kept = " and from the run store" if self.transcripts is not None else ""
                raise UsageError(
                    f"agent {agent.id!r} cannot go on: its conversation (session {agent.session_id}) is gone from "
                    f"{config_dir(self.env)}{kept}; delete it (`orc agents delete {agent.id}`) and create a new one"
                )
            extra: dict[str, Any] = {"allowed_tools": [], "mcp_servers": {}, "env": {}}
            for provide in self.session_extras:
                manager = provide(agent, role)
                if manager is not None:
                    given = await stack.enter_async_context(manager)
                    extra["allowed_tools"] += given.get("allowed_tools", ())
                    extra["mcp_servers"].update(given.get("mcp_servers", {}))
                    extra["env"].update(given.get("env", {}))
            options = self.options(
                agent, role, stderr_lines, max_budget_usd, extra, resume=transcript, env=env
            )
            session = ClaudeSession(agent, options, stderr_lines, emit)
            try:
                if self._starts is None:
                    import anyio

                    self._starts = anyio.Semaphore(STARTS_AT_ONCE)
                async with self._starts:
                    await session.open()
                yield session
            finally:
                await session.close()

    async def delete(self, agent: Agent) -> None:
        """Delete the transcript; refused ("busy") while a turn of the agent runs, in any process (#17)."""
        from claude_agent_sdk import delete_session

        busy = "a message to it is being answered; wait for that to finish, then delete it"
        with session_lock(agent, busy), self._sessions_dir():
            # No session id: no transcript to delete (delete_session(None) raised TypeError).
            with contextlib.suppress(FileNotFoundError, ValueError):
                if agent.session_id:
                    delete_session(agent.session_id, directory=agent.cwd)

    def has_session(self, agent: Agent) -> bool:
        """True if the agent's session transcript exists (even from a first turn cut short), in the store or in
        the CLI's files here, so a later turn can resume it."""
        from claude_agent_sdk import get_session_info

        if not agent.session_id:
            return False
        if self.transcripts is not None and self.transcripts.load(agent, agent.session_id, ""):
            return True
        with self._sessions_dir():
            try:
                return get_session_info(agent.session_id, directory=agent.cwd) is not None
            except (FileNotFoundError, ValueError):
                return False

    @contextlib.contextmanager
    def _sessions_dir(self) -> Iterator[None]:
        """The SDK's session functions read CLAUDE_CONFIG_DIR from os.environ, not from the agent's env (FACTS §5).
        Swap it for the duration of a sync call; nothing awaits meanwhile, so no other agent sees the change."""
        saved = os.environ.get("CLAUDE_CONFIG_DIR")
        os.environ["CLAUDE_CONFIG_DIR"] = str(config_dir(self.env))
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("CLAUDE_CONFIG_DIR", None)
            else:
                os.environ["CLAUDE_CONFIG_DIR"] = saved


def _output_limit(role: Role) -> dict[str, str]:
    """A role's ``max_output_tokens`` as the Claude Code CLI takes it: the CLI has no option for it, only this
    variable (the seed API's ``max_tokens``, #19)."""
    if role.max_output_tokens is None:
        return {}
    return {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(role.max_output_tokens)}
