"""cidx benchmarks: `python benchmarks/run_all.py --quick` (see benchmarks/README.md)."""
