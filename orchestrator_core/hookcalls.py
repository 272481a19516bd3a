"""How the core's hooks are called: through pluggy, each implementation under orc's rules (#18).

pluggy calls every implementation of a hook in one loop; the first exception ends the call and no implementation
says which plugin it came from. orc needs two things more, and gets them without leaving pluggy's call machinery
(order, ``wrapper=True`` and ``hookwrapper=True`` implementations, ``ORC_TRACE_PLUGINS``, hook-call monitoring):

- **Provenance.** While an implementation runs, :func:`running_plugin` names its plugin, so a ``register``
  callback knows which plugin registered a role, a command or a setting.
- **Isolation.** An observer hook's implementation (:data:`~orchestrator_core.hookspecs.OBSERVER_HOOKS`) that
  raises is logged, once per plugin and hook, and the call goes on with the others; ``orc_task_complete``'s
  becomes an ``error`` entry in the reports.

pluggy has no per-implementation error handling, so :func:`guard` wraps each implementation's function once, when
its plugin is registered (``OrcPluginManager.register``); a call is then an ordinary ``pm.hook.NAME(...)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from .hookspecs import OBSERVER_HOOKS
from .provenance import owner

if TYPE_CHECKING:
    import pluggy

    from .plugins import OrcPluginManager

log = logging.getLogger("orc.plugins")
#: An observer call longer than this is reported (once per plugin and hook): it holds up the whole run.
SLOW_OBSERVER_S = 0.1
#: The hook whose failing implementation becomes an entry in the task's reports instead of ending the task.
REPORT_HOOK = "orc_task_complete"

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("orc_running_plugin", default=None)
_failures: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "orc_observer_failures", default=None
)


#: The plugins whose implementations answered (returned something not None) while :func:`answering` collects.
_answered: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("orc_answered", default=None)


@contextlib.contextmanager
def answering() -> Iterator[list[str]]:
    """Collect, in call order, the names of the plugins whose implementations answer a hook called in the block:
    whose answer a ``firstresult`` hook returned is the last one (a planner that answered, #21)."""
    names: list[str] = []
    token = _answered.set(names)
    try:
        yield names
    finally:
        _answered.reset(token)


def running_plugin() -> str | None:
    """The name of the plugin whose implementation of one of orc's hooks is running now, or None.

    A ``register`` callback reads it to know which plugin registered what: the hook is called once, through
    pluggy, for every plugin.
    """
    return _running.get()


def collecting_failures() -> tuple[list[str], contextvars.Token[list[str] | None]]:
    """Start collecting the lines of the observers that fail from now on in this context; pass the token to
    :func:`stop_collecting` (``notify`` returns them)."""
    failures: list[str] = []
    return failures, _failures.set(failures)


def stop_collecting(token: contextvars.Token[list[str] | None]) -> None:
    _failures.reset(token)


def guard(pm: OrcPluginManager, hook_name: str, impl: pluggy.HookImpl) -> None:
    """Make ``impl`` (of one of orc's own hooks) run under orc's rules when pluggy calls it: provenance always,
    isolation for observers and ``orc_task_complete``."""
    function: Callable[..., Any] = impl.function
    name = impl.plugin_name
    if impl.wrapper or impl.hookwrapper:
        on_error = functools.partial(_failed, pm, hook_name, name) if hook_name in OBSERVER_HOOKS else None
        guarded = _wrapper(function, name, on_error)
    elif hook_name in OBSERVER_HOOKS:
        guarded = _observer(pm, hook_name, impl)
    elif hook_name == REPORT_HOOK:
        guarded = _reporter(function, name)
    else:
        guarded = _marked(function, name)
    # pluggy reads the argument names (already done) and calls ``impl.function``: replacing it keeps every call in
    # pluggy's own loop. HookImpl declares the attribute Final for its users, not against its owner's manager.
    object.__setattr__(impl, "function", functools.wraps(function)(guarded))


def _marked(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def marked(*args: Any, **kwargs: Any) -> Any:
        token = _running.set(name)
        try:
            answer = function(*args, **kwargs)
        finally:
            _running.reset(token)
        answered = _answered.get()
        if answer is not None and answered is not None:
            answered.append(name)
        return answer

    return marked


def _observer(pm: OrcPluginManager, hook_name: str, impl: pluggy.HookImpl) -> Callable[..., Any]:
    function, name = impl.function, impl.plugin_name

    def observe(*args: Any, **kwargs: Any) -> Any:
        token = _running.set(name)
        began = time.perf_counter()
        try:
            answer = function(*args, **kwargs)
            if hasattr(answer, "close") and hasattr(answer, "send"):  # a coroutine or a generator: never runs
                answer.close()
                raise TypeError(f"{hook_name} must be a plain function, not async def or a generator")
        except Exception as exc:
            _failed(pm, hook_name, name, exc)
            return None
        finally:
            _running.reset(token)
        took = time.perf_counter() - began
        if took > SLOW_OBSERVER_S:
            _slow(pm, hook_name, impl, took)
        return answer

    return observe


def _reporter(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    marked = _marked(function, name)
    key = f"{name}.error"

    def report(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = marked(*args, **kwargs)
        except Exception as exc:
            return {key: f"{type(exc).__name__}: {exc}"}
        return _settled(answer, key) if inspect.isawaitable(answer) else answer

    return report


async def _settled(answer: Awaitable[Any], key: str) -> Any:
    try:
        return await answer
    except Exception as exc:
        return {key: f"{type(exc).__name__}: {exc}"}


def _wrapper(
    function: Callable[..., Any], name: str, on_error: Callable[[BaseException], None] | None
) -> Callable[..., Any]:
    """A wrapper implementation (new- or old-style: both yield once) whose own code runs as ``name``; with
    ``on_error``, an exception in its code is reported and the call goes on as if the wrapper were not there."""

    def wrap(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        return (yield from _drive(function, args, kwargs, name, on_error))

    return wrap


def _drive(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    name: str,
    on_error: Callable[[BaseException], None] | None,
) -> Generator[None, Any, Any]:
    token = _running.set(name)
    gen: Generator[Any, Any, Any] | None = None
    try:
        gen = function(*args, **kwargs)
        next(gen)
    except StopIteration:
        error = RuntimeError(f"{function.__qualname__} did not yield")
        if on_error is None:
            raise error from None
        on_error(error)
        gen = None
    except Exception as exc:
        if on_error is None:
            raise
        on_error(exc)
        gen = None
    finally:
        _running.reset(token)
    if gen is None:
        return (yield)  # step aside: the call goes on as if this wrapper were not there
    try:
        sent = yield
    except BaseException as exc:
        # The implementations inside raised (an observer's never do: they are guarded): the wrapper sees it.
        token = _running.set(name)
        try:
            gen.throw(exc)
        except StopIteration as stop:
            return stop.value
        finally:
            _running.reset(token)
        gen.close()
        raise
    token = _running.set(name)
    try:
        gen.send(sent)
    except StopIteration as stop:
        return stop.value
    except Exception as exc:
        if on_error is None:
            raise
        on_error(exc)
        return sent
    finally:
        _running.reset(token)
    gen.close()
    error = RuntimeError(f"{function.__qualname__} yielded twice")
    if on_error is None:
        raise error
    on_error(error)
    return sent


def _failed(pm: OrcPluginManager, hook_name: str, name: str, exc: BaseException) -> None:
    """Log an observer's failure: a warning naming the plugin, its distribution and the way out the first time
    (per plugin and hook), at debug level after that (a raising ``orc_event`` must not flood stderr)."""
    line = (
        f"plugin {pm.describe(name)} failed in {hook_name}: {type(exc).__name__}: {exc}; the run goes on; "
        f"disable it with -p no:{owner(pm, name)}"
    )
    log.log(logging.DEBUG if (name, hook_name) in pm.reported else logging.WARNING, "%s", line)
    pm.reported.add((name, hook_name))
    failures = _failures.get()
    if failures is not None:
        failures.append(line)


def _slow(pm: OrcPluginManager, hook_name: str, impl: pluggy.HookImpl, took: float) -> None:
    """Say once per plugin and hook that a third-party observer holds up the run (a built-in's slowness is orc's
    to fix, not a plugin author's to be told about)."""
    key = (impl.plugin_name, f"slow {hook_name}")
    if key in pm.reported or pm.is_builtin(impl.plugin):
        return
    pm.reported.add(key)
    log.warning(
        "plugin %s took %.2f s in %s; observers run on the run's event loop and must return at once "
        "(hand slow work to a thread); said once",
        pm.describe(impl.plugin_name),
        took,
        hook_name,
    )
