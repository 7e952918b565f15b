"""bulkx benchmarks: `python -m bench.run --quick|--full` runs every row and prints one table."""
