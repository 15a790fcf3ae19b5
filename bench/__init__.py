"""invoicesync benchmarks: ``make bench`` (``python -m bench.run``). One module per
benchmark; each returns figures measured side by side with their reference in one run."""
