"""HTTP helpers shared by the paste filter and the HTTP client integrations."""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Collection

__all__ = ["redact_query", "redact_url", "route_template"]

_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
# A segment that is an id: a UUID (dashed or not), 16+ hex digits (project ids, sha1s),
# or a decimal integer. Anything else (resource names, versions such as v2.1) is kept.
_ID_SEGMENT = re.compile(rf"^(?:{_UUID}|[0-9a-fA-F]{{16,}}|\d+)$")
_MAX_SEGMENTS = 32


@functools.lru_cache(maxsize=4096)
def route_template(path: str) -> str:
    """``/v2.1/servers/8a1c...`` -> ``/v2.1/servers/{id}``.

    OpenStack APIs have no route table we can read from a filter, so ids are recognised
    by shape. Bounded: paths with more than 32 segments are cut, so span names (and the
    per-operation sampling table) cannot grow without limit.
    """
    if not path:
        return "/"
    segments = path.split("/")
    if len(segments) > _MAX_SEGMENTS:
        segments = [*segments[:_MAX_SEGMENTS], "..."]
    return "/".join("{id}" if s and _ID_SEGMENT.match(s) else s for s in segments)


def redact_query(query: str, sensitive: Collection[str]) -> str:
    """Replace values of sensitive keys (case-insensitive) with ``REDACTED``."""
    if not query:
        return query
    parts = []
    for item in query.split("&"):
        key, sep, _value = item.partition("=")
        name = urllib.parse.unquote_plus(key).lower()
        if sep and (name in sensitive or any(s in name for s in sensitive)):
            parts.append(f"{key}=REDACTED")
        else:
            parts.append(item)
    return "&".join(parts)


def redact_url(url: str, sensitive: Collection[str]) -> str:
    """Drop user info (passwords) and redact sensitive query values."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, redact_query(parts.query, sensitive), ""))
