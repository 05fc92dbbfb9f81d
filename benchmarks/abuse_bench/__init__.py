"""Parts of benchmarks/abuse.py: the synthetic .com-sized day, the measured commands, pandas, the report."""
