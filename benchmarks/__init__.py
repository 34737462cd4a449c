"""Benchmarks of tap-mx-audience: run `python benchmarks/run.py` (see README.md)."""
