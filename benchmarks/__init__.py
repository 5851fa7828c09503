"""Benchmarks (not tests): ``python -m benchmarks.read_benchmark``; see ``benchmarks/README.md``."""
