"""Benchmarks: programs that print tables (see docs/benchmarks.md); never timed assertions."""
