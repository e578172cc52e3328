"""Benchmarks: the cost of tracing, against the tools operators would otherwise pick."""
