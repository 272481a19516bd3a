"""Executors that run a plan on this machine (sequential, parallel, dag) and the default retry policy.

Disable with ``-p no:orc_executors``.
"""

from orchestrator_core import hookimpl

from .dag import DagExecutor
from .parallel import ParallelExecutor
from .sequential import SequentialExecutor


@hookimpl
def orc_register_executors(register):
    register("sequential", SequentialExecutor())
    register("parallel", ParallelExecutor())
    register("dag", DagExecutor())


@hookimpl(trylast=True)
def orc_subtask_retry(task, subtask, result, attempt, config):
    """trylast: the default policy; a plugin with its own answers first. A stalled turn stopped by the stall policy
    (ORC_STALL_ACTION=retry) gets one more try even with --retries 0."""
    if result.stalled:
        return config.stall_action == "retry" and attempt <= max(config.retries, 1)
    return result.retryable and attempt <= config.retries
