"""One task being carried out: what executors call to run a subtask, and what they may ask about the plan.

Executors (plugins) decide the order and how many subtasks run at once; the :class:`Run` does the rest the same
way for all of them: the limit on agents working at once, the veto hook, creating the agent, handing it its
upstream results (bounded), and reporting each subtask to the observers.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import pluggy

from .agents import AgentManager
from .config import Config
from .plugins import notify
from .records import Metrics, Plan, StatusSnapshot, Subtask, SubtaskResult, SubtaskStatus, Task


class Executor(Protocol):
    """Runs a plan's subtasks through ``await run.run_subtask(subtask)``; registered with ``orc_register_executors``."""

    async def run(self, run: Run) -> None: ...


def bound(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = max(limit - 40, 0)
    return f"{text[:cut]}\n[... {len(text) - cut} more characters not shown]"


class Run:
    """The state of one task while an executor works through its plan."""

    def __init__(self, task: Task, plan: Plan, agents: AgentManager, pm: pluggy.PluginManager, config: Config):
        self.task = task
        self.plan = plan
        self.agents = agents
        self.pm = pm
        self.config = config
        #: Results by subtask id, in the order they ended.
        self.results: dict[str, SubtaskResult] = {}
        #: The agents this run created, by subtask id.
        self.agent_ids: dict[str, str] = {}
        self._limiter = anyio.CapacityLimiter(config.max_parallel_agents)
        self.started = time.monotonic()

    def snapshot(self) -> StatusSnapshot:
        """The task's state now: every agent it made, each subtask's status, the summed metrics."""
        agents = tuple(self.agents.get(a) for a in self.agent_ids.values())
        statuses = {
            s.id: self.results[s.id].status.value if s.id in self.results
            else SubtaskStatus.RUNNING.value if s.id in self.agent_ids else SubtaskStatus.PENDING.value
            for s in self.plan.subtasks
        }
        return StatusSnapshot(
            task_id=self.task.id,
            agents=agents,
            subtasks=statuses,
            metrics=sum((a.metrics for a in agents), Metrics()),
            elapsed_s=time.monotonic() - self.started,
        )

    def ready(self) -> list[Subtask]:
        """Subtasks not yet run whose dependencies have all ended."""
        return [
            s for s in self.plan.subtasks
            if s.id not in self.results and s.id not in self.agent_ids and all(d in self.results for d in s.depends_on)
        ]

    def message_for(self, subtask: Subtask) -> str:
        """The first message a subtask's agent receives: the task, its part, and its upstream results (bounded)."""
        parts = [f"Task: {self.task.prompt}", "", f"Your part ({subtask.role}): {subtask.instruction}"]
        upstream = [self.results[d] for d in subtask.depends_on if d in self.results]
        if upstream:
            share = self.config.max_result_chars // len(upstream)
            parts += ["", "Results from the agents before you:"]
            for result in upstream:
                parts += [f"## {result.subtask_id} ({result.role})", bound(result.output, share)]
        return "\n".join(parts)

    def finish(self, subtask: Subtask, result: SubtaskResult) -> SubtaskResult:
        self.results[subtask.id] = result
        notify(self.pm, "orc_subtask_finished", task=self.task, subtask=subtask, result=result)
        return result

    def skip(self, subtask: Subtask, reason: str, status: SubtaskStatus = SubtaskStatus.SKIPPED) -> SubtaskResult:
        """Record that ``subtask`` will not run (a dependency failed, the run was cancelled)."""
        return self.finish(subtask, SubtaskResult(subtask.id, subtask.role, status, error=reason))

    async def run_subtask(self, subtask: Subtask) -> SubtaskResult:
        """Run one subtask to its end and return its result; never raises for a failed agent.

        A subtask whose dependencies did not all succeed is skipped. At most ``max_parallel_agents`` subtasks are
        inside this method's agent part at once, whatever the executor asks for.
        """
        failed = [d for d in subtask.depends_on if d in self.results and not self.results[d].succeeded]
        if failed:
            return self.skip(subtask, f"skipped: {', '.join(failed)} did not succeed")
        veto = self.pm.hook.orc_subtask_veto(task=self.task, subtask=subtask)
        if veto:
            return self.finish(subtask, SubtaskResult(subtask.id, subtask.role, SubtaskStatus.FAILED, error=veto))
        async with self._limiter:
            agent = self.agents.create(
                subtask.role, name=f"{subtask.role} ({subtask.id})", cwd=self.task.cwd, task_id=self.task.id
            )
            self.agent_ids[subtask.id] = agent.id
            notify(self.pm, "orc_subtask_started", task=self.task, subtask=subtask, agent=agent)
            turn = await self.agents.send(agent.id, self.message_for(subtask))
        status = SubtaskStatus.FAILED if turn.is_error else SubtaskStatus.SUCCEEDED
        return self.finish(
            subtask,
            SubtaskResult(
                subtask.id,
                subtask.role,
                status,
                agent_id=agent.id,
                output=turn.text,
                error=turn.error,
                metrics=self.agents.get(agent.id).metrics,
            ),
        )
