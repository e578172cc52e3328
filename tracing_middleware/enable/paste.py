"""Insert the ``tracing`` filter into every API pipeline of a real paste file.

Pipelines come in three shapes in OpenStack: ``[pipeline:X] pipeline = ...`` (glance
and heat versions, swift's proxy), composites whose factory is a ``pipeline_factory``
with one pipeline per auth strategy (nova, cinder, neutron: ``use = call:...``; glance,
heat: ``paste.composite_factory = ...``), and urlmaps, which hold no pipeline.

The filter goes before the first filter that may answer a request itself — glance's
version negotiation, which serves version discovery (``GET /``) — or that authenticates
or builds the request context, so failed and slow authentications are inside the trace;
and after what precedes those — request id, CORS and proxy handling in every shipped
pipeline — so the span records the request id and the URL the client used. Without any
such filter, it goes just before the application.
"""

from __future__ import annotations

import re

from tracing_middleware.enable.ini import Entry, Section, parse

__all__ = ["FILTER", "disable", "enable", "pipelines"]

FILTER = "tracing"
_MARK = "# os-tracing: added by `os-tracing enable`; `os-tracing disable` removes it"
_BLOCK = f"\n[filter:{FILTER}]\n{_MARK}\nuse = egg:os-tracing#tracing\n"
_NL_BLOCK = _BLOCK.replace(_MARK, _MARK + " (and the newline above)")
_AUTH = re.compile(r"auth|context|keystone|s3api|s3token|versionnegotiation",
                   re.IGNORECASE)
_AUTH_FACTORY = re.compile(r"auth_token|keystonecontext|keystoneauth|tempauth|noauth|"
                           r"ContextMiddleware|context:|s3token|s3api|VersionNegotiation",
                           re.IGNORECASE)
_TOKEN = re.compile(r"\S+")


def _is_pipeline_composite(section: Section, text: str) -> bool:
    for key in ("use", "paste.composite_factory"):
        entry = section.get(key)
        if entry is not None and "pipeline_factory" in entry.value(text):
            return True
    return False


def pipelines(text: str, path: str = "<paste>") -> list[Entry]:
    """Every pipeline value in the file, in file order."""
    found = []
    for section in parse(text, path):
        if section.name.startswith("pipeline:"):
            entry = section.get("pipeline")
            if entry is not None:
                found.append(entry)
        elif section.name.startswith("composite:") and _is_pipeline_composite(section, text):
            found.extend(e for e in section.entries
                         if e.key not in ("use", "paste.composite_factory"))
    return found


def _filter_factories(sections: list[Section], text: str) -> dict[str, str]:
    factories = {}
    for section in sections:
        if section.name.startswith("filter:"):
            entry = section.get("use") or section.get("paste.filter_factory")
            factories[section.name[len("filter:"):].strip()] = (
                entry.value(text) if entry is not None else "")
    return factories


def _insert_position(entry: Entry, text: str, factories: dict[str, str]) -> int | None:
    tokens = list(_TOKEN.finditer(text, entry.value_start, entry.end))
    names = [t.group() for t in tokens]
    if FILTER in names or len(tokens) < 1:
        return None
    for token in tokens[:-1]:
        name = token.group()
        if _AUTH.search(name) or _AUTH_FACTORY.search(factories.get(name, "")):
            return token.start()
    return tokens[-1].start()


def enable(text: str, path: str = "<paste>") -> str:
    """``text`` with the filter in every pipeline and its section; idempotent."""
    sections = parse(text, path)
    factories = _filter_factories(sections, text)
    positions = [p for p in (_insert_position(e, text, factories)
                             for e in pipelines(text, path)) if p is not None]
    for position in sorted(positions, reverse=True):
        text = text[:position] + FILTER + " " + text[position:]
    if not any(s.name == f"filter:{FILTER}" for s in sections):
        text += _BLOCK if text.endswith("\n") or not text else _NL_BLOCK
    return text


def disable(text: str, path: str = "<paste>") -> str:
    """Remove exactly what :func:`enable` added."""
    if text.endswith(_NL_BLOCK):
        text = text[:-len(_NL_BLOCK)]
    elif text.endswith(_BLOCK):
        text = text[:-len(_BLOCK)]
    for entry in sorted(pipelines(text, path), key=lambda e: e.start, reverse=True):
        for token in reversed(list(_TOKEN.finditer(text, entry.value_start, entry.end))):
            if token.group() == FILTER and text[token.end():token.end() + 1] == " ":
                text = text[:token.start()] + text[token.end() + 1:]
    return text
