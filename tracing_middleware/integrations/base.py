"""One module per integration, each an :class:`Integration` set up once per process.

Modelled on sentry-python: ``setup()`` imports the library itself and raises
:class:`DidNotEnable` when it is missing. That is swallowed for the default set (a service
without httpx simply has no httpx integration) and reported when the operator asked for
the integration by name. ``uninstrument()`` undoes every patch, for tests.
"""

from __future__ import annotations

import abc
import logging
import threading
from typing import ClassVar

__all__ = ["DidNotEnable", "Integration"]

LOG = logging.getLogger(__name__)


class DidNotEnable(Exception):
    """The library this integration instruments is not importable (or too old)."""


class Integration(abc.ABC):
    #: Name operators type in ``integrations``.
    identifier: ClassVar[str] = ""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _installed: ClassVar[bool] = False

    @classmethod
    def setup_once(cls) -> bool:
        """Install the patches unless already installed. Returns ``True`` when installed now."""
        with Integration._lock:
            if cls._installed:
                return False
            cls.setup()
            cls._installed = True
            return True

    @classmethod
    def uninstrument_once(cls) -> None:
        with Integration._lock:
            if not cls._installed:
                return
            cls.uninstrument()
            cls._installed = False

    @classmethod
    def is_installed(cls) -> bool:
        return cls._installed

    @classmethod
    @abc.abstractmethod
    def setup(cls) -> None:
        """Patch the library. Raise :class:`DidNotEnable` when it is missing."""

    @classmethod
    @abc.abstractmethod
    def uninstrument(cls) -> None:
        """Undo exactly what :meth:`setup` did."""
