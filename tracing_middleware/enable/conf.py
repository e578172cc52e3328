"""Edit a service's oslo.config file: ``traced+`` transport URLs and a ``[tracing]`` block.

``transport_url`` is prefixed in ``[DEFAULT]`` and ``[oslo_messaging_notifications]``;
hosts, credentials, virtual host and query are kept byte for byte. The ``[tracing]``
section is added only when the file has none.
"""

from __future__ import annotations

from tracing_middleware.enable.ini import parse

__all__ = ["disable", "enable"]

_SECTIONS = ("DEFAULT", "oslo_messaging_notifications")
_PREFIX = "traced+"
_MARK = "# os-tracing: added by `os-tracing enable`; `os-tracing disable` removes it"


_NL = " (and the newline above)"
#: The commented example :func:`_block` writes as its last line.
_EXAMPLE = "# exporters = otlp+http://otel-collector:4318"


def _block(service_name: str | None, newline: bool = False) -> str:
    lines = ["", "[tracing]", _MARK + (_NL if newline else "")]
    if service_name:
        lines.append(f"service_name = {service_name}")
    lines.append(_EXAMPLE)
    return "\n".join(lines) + "\n"


def _url_entries(text: str, path: str) -> list[int]:
    offsets = []
    for section in parse(text, path):
        if section.name in _SECTIONS:
            entry = section.get("transport_url")
            if entry is not None and "://" in entry.value(text):
                offsets.append(entry.value_start)
    return offsets


def enable(text: str, service_name: str | None = None, path: str = "<conf>") -> str:
    for offset in sorted(_url_entries(text, path), reverse=True):
        if not text.startswith(_PREFIX, offset):
            text = text[:offset] + _PREFIX + text[offset:]
    if not any(s.name == "tracing" for s in parse(text, path)):
        if text.endswith("\n") or not text:
            text += _block(service_name)
        else:
            text += "\n" + _block(service_name, newline=True)
    return text


def disable(text: str, path: str = "<conf>") -> str:
    """Remove what :func:`enable` added, and nothing after it.

    The ``[tracing]`` block goes with the options set in it since (``iniset`` puts them
    under the header, before our marker), but a section appended after it stays: it is
    not ours.
    """
    for section in parse(text, path):
        if section.name != "tracing":
            continue
        body = text[section.start:section.end]
        mark = body.find("\n" + _MARK)
        if mark == -1:
            continue
        example = body.find("\n" + _EXAMPLE + "\n", mark)
        end = max([section.start + body.index("\n", mark + 1) + 1]
                  + [e.end + 1 for e in section.entries]
                  + ([section.start + example + len(_EXAMPLE) + 2] if example != -1
                     else []))
        added_newline = body[mark:].startswith("\n" + _MARK + _NL)
        start = section.start - (2 if added_newline else 1)
        text = text[:max(start, 0)] + text[min(end, len(text)):]
        break
    for offset in sorted(_url_entries(text, path), reverse=True):
        if text.startswith(_PREFIX, offset):
            text = text[:offset] + text[offset + len(_PREFIX):]
    return text
