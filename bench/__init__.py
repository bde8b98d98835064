"""Benchmarks: `make bench` runs them all through bench/run.py and prints the figures."""
