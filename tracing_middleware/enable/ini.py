"""A read-only view of an INI file's lines, for edits that change nothing else.

configparser would rewrite the whole file (comments, order, spacing, case). Edits here
are made on the original text at known offsets, so ``disable`` after ``enable`` gives the
original back byte for byte. Lines that are not blank, comments, section headers,
``key = value`` or continuations are a parse error naming the line.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["Entry", "IniError", "Section", "parse"]

_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^([^=:\s#;][^=:]*?)\s*[=:]\s?(.*)$")


class IniError(ValueError):
    def __init__(self, path: str, line: int, text: str) -> None:
        super().__init__(f"{path}:{line}: cannot parse {text.strip()[:60]!r}")
        self.line = line


@dataclasses.dataclass
class Entry:
    key: str
    start: int  # offset of the line
    value_start: int  # offset of the value's first character
    end: int  # offset just past the value (last continuation line, without newline)

    def value(self, text: str) -> str:
        return text[self.value_start:self.end]


@dataclasses.dataclass
class Section:
    name: str
    start: int
    end: int
    entries: list[Entry] = dataclasses.field(default_factory=list)

    def get(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key.lower() == key.lower():
                return entry
        return None


def parse(text: str, path: str = "<text>") -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    last: Entry | None = None
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        line_start = offset
        offset += len(line)
        if not stripped or stripped.startswith(("#", ";")):
            if current is not None:
                current.end = offset
            if not stripped:
                last = None
            continue
        if body[:1] in (" ", "\t") and last is not None:
            last.end = line_start + len(body)
            current.end = offset  # type: ignore[union-attr]
            continue
        match = _SECTION.match(stripped)
        if match and body[:1] == "[":
            current = Section(match.group(1).strip(), line_start, offset)
            sections.append(current)
            last = None
            continue
        match = _KEY.match(body)
        if match is None or current is None:
            raise IniError(path, number, body)
        value_start = line_start + match.start(2)
        last = Entry(match.group(1).strip(), line_start, value_start,
                     line_start + len(body))
        current.entries.append(last)
        current.end = offset
    return sections
