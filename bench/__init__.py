"""Benchmarks: accuracy parity, explanation parity and cost per backend and precision."""
