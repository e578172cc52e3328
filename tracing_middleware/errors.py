"""The one exception configuration problems travel in.

It sits below every other module so that the registries (``integrations``) and the
settings loader (``config``) can both raise it without importing each other.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """One or more option values are unusable; ``problems`` has one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
