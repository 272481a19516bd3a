"""A Datasette plugin for ``orc browse``: one log line on stderr per failed request, and nothing else.

Datasette's own handler prints a rich traceback with every frame's locals (about 90 KB) to stdout for each failed
request, a timed-out query included; once nobody reads the pipe, the server blocks on that write and stops answering
(#17). This one builds the same error response and logs one line instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from typing import Any

from datasette import hookimpl

log = logging.getLogger("orc.browse")

DEFAULT = "datasette.handle_exception"


def install() -> None:
    """Put this handler in place of Datasette's default one (in this process: ``orc browse`` only)."""
    import sys

    from datasette import handle_exception as default
    from datasette.plugins import pm

    default.rich = None  # the default builds the response below; it must not print
    if pm.get_plugin(DEFAULT) is not None:
        pm.unregister(name=DEFAULT)
    if not pm.is_registered(sys.modules[__name__]):
        pm.register(sys.modules[__name__], "orc-browse-errors")


@hookimpl
def handle_exception(datasette: Any, request: Any, exception: BaseException) -> Any:
    from datasette import handle_exception as default

    status = getattr(exception, "status", 500)
    text = re.sub(r"<[^>]*>", "", str(exception)).split()  # Datasette's messages may be HTML
    reason = " ".join(text)[:200] or type(exception).__name__
    log.warning("%s %s failed (%s): %s", request.method, request.path, status, reason)
    respond = default.handle_exception(datasette=datasette, request=request, exception=exception)

    async def inner() -> Any:
        # The default prints a traceback for an unexpected error (a 500); the line above said what happened.
        with contextlib.redirect_stderr(io.StringIO()):
            return await respond()

    return inner
