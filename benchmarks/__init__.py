"""Benchmarks run by hand (never timed tests): see docs/benchmarks.md."""
