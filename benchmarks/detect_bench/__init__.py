"""Parts of benchmarks/detect.py: the labelled set and its scoring, the live run, the report."""
