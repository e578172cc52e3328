"""Workarounds for oslo.messaging releases, each marked with the release it concerns."""

from __future__ import annotations

from typing import Any

__all__ = ["register_oslo_messaging_opts"]


def register_oslo_messaging_opts(conf: Any) -> None:
    """Register oslo.messaging's own option groups on ``conf``.

    NOTE(os-tracing): oslo.messaging 18.3 registers ``[oslo_messaging_tracing]`` and
    ``[oslo_messaging_metrics]`` only on the global ``cfg.CONF`` but reads them from the
    transport's ``conf``; a service (or test) with its own ``ConfigOpts`` then fails every
    RPC call with ``NoSuchOptError``. Registering is idempotent.
    """
    from oslo_config import cfg
    from oslo_messaging import opts

    for group, options in opts.list_opts():
        name = group.name if isinstance(group, cfg.OptGroup) else group
        try:
            conf.register_opts(options, group=name)
        except cfg.DuplicateOptError:
            continue
    for module, group in (("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
                          ("oslo_messaging._metrics.client", "oslo_messaging_metrics")):
        try:
            mod = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        for value in vars(mod).values():
            if isinstance(value, list) and value and all(isinstance(o, cfg.Opt)
                                                         for o in value):
                try:
                    conf.register_opts(value, group=group)
                except cfg.DuplicateOptError:
                    continue
