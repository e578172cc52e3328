"""OpenStack request ids on spans: the attribute names, their bounds, the global id's shape.

An operator holds a request id from an error message or a log line and looks for its
trace (``os-tracing trace find --request-id``). Two ids travel with an OpenStack request:

* the *request id*, this service's own (``x-openstack-request-id`` on its response,
  ``openstack.request_id`` in the WSGI environ, ``request_id`` in an RPC request
  context);
* the *global request id*, the first service's request id that its callees share
  (oslo.middleware's ``RequestId`` reads it from the *incoming*
  ``X-OpenStack-Request-ID`` header into ``openstack.global_request_id``, oslo.context
  carries it as ``global_request_id``, keystoneauth1 sends it on).

Both come from the caller, so both are bounded; a global id must look like
``req-<uuid>``, the one shape oslo.middleware accepts from the header (its
``ID_FORMAT``), so a span never carries what the service itself threw away.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["GLOBAL_REQUEST_ID", "MAX_CHARS", "REQUEST_ID", "REQUEST_ID_ATTRIBUTES",
           "from_context", "global_request_id", "request_id"]

#: Span attribute of this service's request id.
REQUEST_ID = "openstack.request_id"
#: Span attribute of the request id shared by every service a request reaches.
GLOBAL_REQUEST_ID = "openstack.global_request_id"
#: Both, in the order a search looks at them.
REQUEST_ID_ATTRIBUTES = (REQUEST_ID, GLOBAL_REQUEST_ID)
#: Longest request id kept; ``req-<uuid>`` is 40 characters.
MAX_CHARS = 128

# oslo_middleware.request_id.ID_FORMAT, lowercase hex as oslo.context generates it.
_GLOBAL_ID = re.compile(
    r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def request_id(value: Any) -> str | None:
    """A request id as recorded: a string, cut to :data:`MAX_CHARS`; else ``None``."""
    return value[:MAX_CHARS] if isinstance(value, str) and value else None


def global_request_id(value: Any) -> str | None:
    """A global request id if ``value`` is ``req-<uuid>``, else ``None`` (never raises)."""
    if isinstance(value, str) and len(value) == 40 and _GLOBAL_ID.fullmatch(value):
        return value
    return None


def from_context(ctxt: Any) -> dict[str, str]:
    """The request id attributes of an RPC request context (a mapping), checked as above."""
    if not isinstance(ctxt, (dict, Mapping)):  # dict first: the common case, no ABC check
        return {}
    tags = {}
    local = request_id(ctxt.get("request_id"))
    if local is not None:
        tags[REQUEST_ID] = local
    shared = global_request_id(ctxt.get("global_request_id"))
    if shared is not None:
        tags[GLOBAL_REQUEST_ID] = shared
    return tags
