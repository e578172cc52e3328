"""os-tracing: distributed tracing for OpenStack services, switched on by configuration."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("os-tracing")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
