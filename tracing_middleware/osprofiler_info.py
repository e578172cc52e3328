"""osprofiler ``info`` dictionaries as span attributes, minus anything that looks secret.

Shared by the live bridge (``integrations/osprofiler.py``) and the JSON importer
(``views/osprofiler_import.py``) so both drop exactly the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_VALUE", "SECRET_WORDS", "flatten_info"]

#: Keys containing any of these are dropped: passwords, tokens, keys, SQL parameters.
SECRET_WORDS = ("password", "passwd", "token", "secret", "key", "auth", "credential",
                "params", "parameters")
MAX_VALUE = 512


def flatten_info(info: Any, prefix: str = "osprofiler", out: dict[str, Any] | None = None,
                 depth: int = 0) -> dict[str, Any]:
    """``{"db": {"statement": s}}`` -> ``{"osprofiler.db.statement": s}``, bounded."""
    out = {} if out is None else out
    if not isinstance(info, Mapping) or depth > 3:
        return out
    for key, value in info.items():
        name = str(key)
        if any(word in name.lower() for word in SECRET_WORDS):
            continue
        full = f"{prefix}.{name}"
        if isinstance(value, Mapping):
            flatten_info(value, full, out, depth + 1)
        elif isinstance(value, (bool, int, float)):
            out[full] = value
        elif value is not None:
            out[full] = str(value)[:MAX_VALUE]
    return out
