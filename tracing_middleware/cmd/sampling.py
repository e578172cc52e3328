"""``os-tracing sampling serve|show``: central sampling policy without Jaeger."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sampling", help="serve or inspect sampling policy")
    sub = parser.add_subparsers(dest="sampling_command", metavar="SUBCOMMAND")
    sub.required = True
    serve = sub.add_parser("serve", help="serve Jaeger's /sampling from a strategies file")
    serve.add_argument("--strategies", required=True, help="Jaeger strategies JSON file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5778)
    serve.set_defaults(func=_serve)
    show = sub.add_parser("show", help="the policy a service would apply now")
    show.add_argument("--service", required=True)
    show.add_argument("--sampler-arg", default="endpoint=http://127.0.0.1:5778/sampling",
                      help="as [tracing] sampler_arg for jaeger_remote")
    show.add_argument("--operation", help="also print the probability for this operation")
    show.set_defaults(func=_show)


def _serve(args: argparse.Namespace) -> int:
    from tracing_middleware.sampling.server import SamplingServer

    server = SamplingServer(args.strategies, args.host, args.port)
    print(f"serving sampling policy from {args.strategies} on {server.url}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _show(args: argparse.Namespace) -> int:
    from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler

    sampler = JaegerRemoteSampler.from_arg(args.sampler_arg, args.service)
    sampler.shutdown()
    fresh = JaegerRemoteSampler(sampler.endpoint, args.service, start=False)
    ok = fresh.poll_once()
    policy = fresh.policy
    print(f"service:  {args.service}")
    print(f"endpoint: {fresh.endpoint} ({'answered' if ok else 'unavailable: initial rate'})")
    print(f"policy:   {policy.describe()}")
    for name, rate in sorted(policy.operations.items()):
        print(f"  {name}: {rate}")
    if args.operation:
        probability = policy.probability_for(args.operation)
        shown = "rate limited" if probability is None else f"{probability}"
        print(f"operation {args.operation!r}: {shown}")
    return 0 if ok else 1
