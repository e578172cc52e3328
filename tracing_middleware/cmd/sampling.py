"""``os-tracing sampling serve|show``: central sampling policy without Jaeger.

``serve`` answers Jaeger's remote-sampling protocol from a strategies file, for our
``jaeger_remote`` sampler, jaeger-client and the OpenTelemetry SDKs alike. ``show`` asks an
endpoint once, as a service would, and prints the policy it would apply now.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sampling`` with its ``serve`` and ``show`` subcommands (each sets ``func``)."""
    parser = subparsers.add_parser(
        "sampling", help="serve or inspect sampling policy",
        description="Serve Jaeger's remote-sampling protocol from a strategies file, or "
                    "show the policy a service would apply now.")
    sub = parser.add_subparsers(dest="sampling_command", metavar="SUBCOMMAND")
    sub.required = True
    serve = sub.add_parser("serve", help="serve Jaeger's /sampling from a strategies file")
    serve.add_argument("--strategies", required=True, metavar="FILE",
                       help="Jaeger strategies JSON file; re-read when it changes")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=5778,
                       help="port to listen on (jaeger-agent's is 5778)")
    serve.set_defaults(func=_serve)
    show = sub.add_parser("show", help="the policy a service would apply now")
    show.add_argument("--service", required=True, help="service name, as service_name")
    show.add_argument("--sampler-arg", default="endpoint=http://127.0.0.1:5778/sampling",
                      help="as [tracing] sampler_arg for jaeger_remote")
    show.add_argument("--operation", help="also print the probability for this span name")
    show.set_defaults(func=_show)


def _serve(args: argparse.Namespace) -> int:
    from tracing_middleware.cmd.sampling_server import SamplingServer

    try:
        server = SamplingServer(args.strategies, args.host, args.port)
    except (OSError, ValueError) as exc:
        print(f"os-tracing sampling serve: {exc}", file=sys.stderr)
        return 2
    print(f"serving sampling policy from {args.strategies} on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


def _show(args: argparse.Namespace) -> int:
    from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler
    from tracing_middleware.sampling.strategies import PER_OPERATION

    try:
        sampler = JaegerRemoteSampler.from_arg(args.sampler_arg, args.service, start=False)
    except ValueError as exc:
        print(f"os-tracing sampling show: {exc}", file=sys.stderr)
        return 2
    ok = sampler.poll_once()
    policy = sampler.policy
    state = "answered" if ok else "unavailable, so the initial rate applies"
    print(f"service:  {args.service}")
    print(f"endpoint: {sampler.endpoint} ({state})")
    print(f"policy:   {policy.describe()}")
    print(f"sampler:  {sampler.get_description()}")
    for name, rate in sorted(policy.operations.items()):
        print(f"  {name}: {rate}")
    if args.operation is not None:
        probability = policy.probability_for(args.operation)
        if probability is None:
            shown = f"rate limited ({policy.rate} traces/s per process)"
        elif policy.kind == PER_OPERATION and policy.lower_bound > 0:
            shown = f"{probability} (at least {policy.lower_bound} traces/s per process)"
        else:
            shown = f"{probability}"
        print(f"operation {args.operation!r}: {shown}")
    return 0 if ok else 1
