"""The service the WSGI servers under test run: it answers with the pid of the worker that
served the request, so a test knows which worker answered and can tell, when a span is
missing, which worker lost it.

On the servers' ``PYTHONPATH`` (or ``python-path``); not a test module.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

#: What a request costs: long enough that a round of concurrent requests keeps every
#: thread of one worker busy, so the server hands the rest to the other workers.
WORK_S = 0.02


def application(environ: dict[str, Any], start_response: Callable[..., Any]
                ) -> Iterable[bytes]:
    time.sleep(WORK_S)
    body = f"{os.getpid()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def app_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    """``[app:pidapp] paste.app_factory = pidapp:app_factory``."""
    return application
