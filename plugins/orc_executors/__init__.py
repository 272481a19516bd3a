"""Executors that run a plan on this machine. Disable with ``-p no:orc_executors``."""

from orchestrator_core import hookimpl

from .sequential import SequentialExecutor


@hookimpl
def orc_register_executors(register):
    register("sequential", SequentialExecutor())
