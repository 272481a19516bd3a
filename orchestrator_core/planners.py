"""Planners by name, and who answered (#21).

``--planner NAME`` (the ``ORC_PLANNER`` setting) asks the planner a plugin registered under NAME with
``orc_register_planners``; without it the ``orc_make_plan`` hook decides, as before. Either way the core knows which
plugin's planner answered, so a planner that answers with something that is not a plan (an ``async def`` impl
that meant to decline, a dict) is a plugin error naming that plugin (exit 4), not a confusing "no plan" or an
internal error.

This module is also a core plugin (registered by :func:`~orchestrator_core.make_plugin_manager`, not
disableable): it declares ``ORC_PLANNER`` and ``--planner`` for every planner plugin.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .errors import PlanError, PluginError, UsageError
from .hookspecs import hookimpl
from .records import NAME, Plan, Subtask

#: The setting (and ``--planner`` option) naming the planner the user asks for; empty: the task type decides.
PLANNER_SETTING = "ORC_PLANNER"
#: What a planner (and ``orc_make_plan``) may take, by name.
PLAN_ARGUMENTS = ("prompt", "task_type", "roles", "task_types", "config", "orc", "cwd")
#: A planner: takes any of ``orc_make_plan``'s arguments by name, returns a Plan, an awaitable of one, or None.
Planner = Callable[..., Any]


@hookimpl
def orc_addoption(parser: Any) -> None:
    parser.add_setting(
        PLANNER_SETTING,
        parse=lambda text: text.strip() or None,
        default=None,
        help="Ask this planner for every plan (`orc plugins` lists them); empty: the task type decides.",
    )
    parser.add_option(
        "--planner",
        setting=PLANNER_SETTING,
        commands=("execute", "plan"),
        metavar="NAME",
        help="Ask this planner for the plan.",
    )


def planner_problem(item: Any) -> str | None:
    """What is wrong with a registered ``(name, planner)``, or None."""
    name, planner = item
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return (
            f"a planner's name must be letters, digits, '-', '_' or '.', starting with a letter; got {name!r}"
        )
    if inspect.isclass(planner):
        return f"planner {name!r} is the class {planner.__name__}; register an instance or a function"
    if not callable(planner):
        return f"planner {name!r} is {planner!r}, which cannot be called; register a function"
    try:
        parameters = inspect.signature(planner).parameters.values()
    except (TypeError, ValueError):
        return None
    unknown = [
        p.name
        for p in parameters
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in PLAN_ARGUMENTS
    ]
    if unknown:
        return (
            f"planner {name!r} takes {unknown[0]!r}, which orc does not pass; it may take any of: "
            f"{', '.join(PLAN_ARGUMENTS)}"
        )
    return None


def registered(pm: Any) -> dict[str, tuple[Planner, str]]:
    """The planners plugins register, by name: ``{name: (planner, plugin name)}``.

    :raises PluginError: a name registered twice, or a planner that cannot be called.
    """
    from .plugins import collect

    return {
        name: (planner, plugin)
        for name, ((_, planner), plugin) in collect(
            pm, "orc_register_planners", lambda item: item[0], planner_problem
        ).items()
    }


@attrs.frozen
class Answer:
    """What a planner answered, and whose planner it was (None: no plugin answered)."""

    value: Any
    plugin: str | None
    #: ``planner NAME`` when the user named it, else the hook's name: for messages.
    source: str = "orc_make_plan"
    awaited: bool = False

    async def settled(self) -> Answer:
        """This answer with an awaitable's result in place of the awaitable."""
        if not inspect.isawaitable(self.value):
            return self
        return attrs.evolve(self, value=await self.value, awaited=True)

    def plan(self, pm: Any, task_type: str) -> Plan:
        """The Plan answered.

        :raises PluginError: the planner answered with something that is not a Plan, or with an awaitable that
            gave None (an ``async def`` impl answers even when it means to decline).
        :raises PlanError: no planner made a plan (a named planner declined, or none answered the hook).
        """
        if isinstance(self.value, Plan) and all(isinstance(s, Subtask) for s in self.value.subtasks):
            return self.value
        if self.value is None and not self.awaited:
            if self.source != "orc_make_plan":
                raise PlanError(f"{self.source} made no plan for task type {task_type!r}")
            raise PlanError(
                f"no planner made a plan for task type {task_type!r}; is a planner plugin disabled?"
            )
        who = _describe(pm, self.plugin)
        if self.value is None:
            problem = (
                "answered with an awaitable that gave no plan: an `async def` impl answers even when it means to "
                "decline; make it a plain def that returns None to decline and an awaitable only to plan"
            )
        elif isinstance(self.value, Plan):
            odd = next(s for s in self.value.subtasks if not isinstance(s, Subtask))
            problem = f"answered a Plan with a subtask that is {type(odd).__name__}, not a Subtask"
        else:
            problem = f"answered {type(self.value).__name__}, not a Plan"
        raise PluginError(
            f"plugin {who}'s {self.source} {problem}; fix it or disable the plugin with -p no:{self.plugin}"
        )


def _describe(pm: Any, name: str | None) -> str:
    describe = getattr(pm, "describe", None)
    return describe(name) if describe is not None and name is not None else f'"{name}"'


def ask(pm: Any, config: Any, kwargs: Mapping[str, Any]) -> Answer:
    """Ask the planner the user named (``ORC_PLANNER``), else the ``orc_make_plan`` hook, for a plan.

    :param kwargs: ``orc_make_plan``'s arguments.
    :raises UsageError: the user named a planner no plugin registered.
    """
    name = config.get(PLANNER_SETTING)
    if name:
        planners = registered(pm)
        if name not in planners:
            known = ", ".join(sorted(planners)) or "none (no planner plugin is loaded)"
            raise UsageError(f"unknown planner {name!r}; choose one of: {known} (see `orc plugins`)")
        planner, plugin = planners[name]
        # Through the hook all the same, so its wrappers (a tracer's plan span) see the named planner's work too.
        token = _named.set(planner)
        try:
            value = pm.hook.orc_make_plan(**kwargs)
        finally:
            _named.reset(token)
        return Answer(None if value is _DECLINED else value, plugin, source=f"planner {name!r}")
    return _first_answer(pm, kwargs)


#: The planner the user named, while :func:`ask` calls ``orc_make_plan`` for it.
_named: contextvars.ContextVar[Planner | None] = contextvars.ContextVar("orc_named_planner", default=None)
#: What :func:`orc_make_plan` answers for a named planner that declined (None would let the next impl answer).
_DECLINED = object()


@hookimpl(tryfirst=True)
def orc_make_plan(
    prompt: Any, task_type: Any, roles: Any, task_types: Any, config: Any, orc: Any, cwd: Any
) -> Any:
    """The planner the user named (``--planner``) answers, and no other: its answer, or a decline."""
    planner = _named.get()
    if planner is None:
        return None
    kwargs = {"prompt": prompt, "task_type": task_type, "roles": roles, "task_types": task_types}
    answer = _call(planner, {**kwargs, "config": config, "orc": orc, "cwd": cwd})
    return _DECLINED if answer is None else answer


def _call(planner: Planner, kwargs: Mapping[str, Any]) -> Any:
    """Call ``planner`` with the arguments it names (all of them if it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(planner).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return planner(**kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return planner(**kwargs)
    return planner(**{p.name: kwargs[p.name] for p in parameters if p.name in kwargs})


def _first_answer(pm: Any, kwargs: Mapping[str, Any]) -> Answer:
    """``orc_make_plan`` as pluggy calls it (first non-None answer, every wrapper around it), and whose it is."""
    from .hookcalls import answering

    with answering() as answered:
        value = pm.hook.orc_make_plan(**kwargs)
    return Answer(value, answered[-1] if answered and value is not None else None)


def listed_in_help(param: Any, pm: Any) -> Any:
    """``--planner`` with the registered planners' names in its help; any other option as it is."""
    if getattr(param, "name", None) != "planner":
        return param
    import copy

    try:
        names = sorted(registered(pm))
    except PluginError:
        return param  # a plugin's registration error is reported when the command runs
    if not names:
        return param
    param = copy.copy(param)
    param.help = f"{param.help or ''} Planners: {', '.join(names)}.".strip()
    return param
