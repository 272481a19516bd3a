"""The files ``orc new-plugin`` writes, as :class:`string.Template` text (``$name``, ``$module``, ``$dist``,
``$title``, ``$orc_requirement``); paths are templates too. The generated tests are run by orc's own suite
(``tests/test_new_plugin.py``) from wheels in a fresh venv, so what a new author starts from works."""

from __future__ import annotations

from string import Template


def render(template: str, values: dict[str, str]) -> str:
    return Template(template).substitute(values)


PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$title for orc: a role, a task type and an observer."
readme = "README.md"
requires-python = ">=3.11"
# orc's distribution on PyPI is orc-agents (`orc` there is another project).
dependencies = ["$orc_requirement"]

[project.optional-dependencies]
test = ["pytest>=8"]

# What makes this a plugin: orc loads every entry point in the `orc` group, under its name ($name).
[project.entry-points.orc]
$name = "$module"

[tool.setuptools]
packages = ["$module"]
"""

README = """\
# $dist

A plugin for [orc](https://pypi.org/project/orc-agents/): the `$name` role, the `$name` task type (the $name
agent, then orc's reviewer) and an observer that logs each finished subtask.

```bash
pip install -e .                # orc plugins now lists $name; orc roles shows the role
python -m pytest                # the tests use orc's pytest fixtures and its scripted model: no credentials
orc execute --scripted --task-type $name "Check the app" --cwd "$$(mktemp -d)"
orc -p no:$name roles           # the plugin disabled for one command
```

Edit `$module/__init__.py`: the role's prompt and tools, the task type's subtasks, what the observer does.
"""

PLUGIN = '''\
"""$title: the $name role, the $name task type and an observer (disable with `orc -p no:$name`)."""

import logging

from orchestrator_core import Role, Subtask, TaskType, hookimpl

log = logging.getLogger("orc.$name")

ROLE = Role(
    "$name",
    "Looks through the code for what the task asks and reports it; changes nothing.",
    "You are the $name agent of the team. Read the code the task is about and report what you find, "
    "with the files and lines. Change nothing.",
    tools=("Read", "Glob", "Grep"),
)

#: Subtask instructions may use {prompt} (the user's words); write {{ and }} for literal braces.
TASK_TYPE = TaskType(
    "$name",
    "The $name agent looks, then orc's reviewer checks what it found.",
    [
        Subtask("1", "$name", "Look into this and report what you find: {prompt}"),
        Subtask("2", "reviewer", "Check the report of the $name agent for: {prompt}", depends_on=("1",)),
    ],
)


@hookimpl
def orc_register_roles(register):
    register(ROLE)


@hookimpl
def orc_register_task_types(register):
    register(TASK_TYPE)


@hookimpl
def orc_subtask_finished(task, subtask, result):
    """An observer: plain def, quick, never raises (an exception is logged and the run goes on)."""
    log.info("$name: subtask %s (%s) %s", subtask.id, subtask.role, result.status.value)


@hookimpl
def orc_scripted_model(model):
    """What the role does under `orc execute --scripted`: its scripted model's replies."""
    from orchestrator_core.testing import text, tool

    model.script([tool("Glob", {"pattern": "**/*.py"}), text("$title: looked at the Python files.")], role=ROLE)
'''

TESTS = '''\
"""Tests for $dist with orc's pytest plugin: its fixtures need no import. The model is the only stand-in: the real
Claude Code CLI runs each agent against orc's scripted model, a server on 127.0.0.1 answering what a test scripts."""

import logging

import pytest

import $module
from orchestrator_core.testing import text, tool
from orchestrator_core.testing.conformance import check_observer, check_role


def test_the_role_is_valid():
    check_role($module.ROLE)  # name, prompt, tools the runtime knows, permission mode


def test_the_plugin_registers_its_role_and_task_type(make_orchestrator):
    orc = make_orchestrator(plugins=[$module])
    assert orc.roles["$name"].tools == ("Read", "Glob", "Grep")
    assert [s.role for s in orc.task_types["$name"].subtasks] == ["$name", "reviewer"]


def test_the_observer_keeps_up_with_a_real_run():
    calls = check_observer($module)  # sync, known arguments, no exception, quick
    assert calls["orc_subtask_finished"] >= 1


@pytest.mark.anyio
async def test_the_task_type_runs(make_orchestrator, scripted_model, orc_workdir, caplog):
    (orc_workdir / "app.py").write_text("print('hello')\\n")
    # Scripts answer a role's agents by the role's name: the test need not know its prompt.
    looked = scripted_model.script([tool("Glob", {"pattern": "*.py"}), text("Found app.py.")], role="$name")
    scripted_model.script([text("Approved.")], role="reviewer")
    caplog.set_level(logging.INFO, logger="orc.$name")
    async with make_orchestrator(plugins=[$module]) as orc:
        result = await orc.execute("Check the app", task_type="$name", cwd=orc_workdir)
    assert result.success, result.error
    assert [s.output for s in result.subtasks] == ["Found app.py.", "Approved."]
    assert "app.py" in scripted_model.requests_for(looked)[-1].last_tool_output  # the CLI really ran the Glob
    assert "$name: subtask 1 ($name) succeeded" in caplog.text
'''

CONFTEST = '''\
import pytest


@pytest.fixture
def anyio_backend():
    """orc runs on asyncio: without this, anyio's plugin would also run the async tests on trio if it is installed."""
    return "asyncio"
'''

#: Path (a template) -> content (a template).
FILES = {
    "tests/conftest.py": CONFTEST,
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$module/__init__.py": PLUGIN,
    "tests/test_$module.py": TESTS,
}
