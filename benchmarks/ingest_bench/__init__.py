"""The ingest benchmark's parts: the capture it reads, the tools it measures, the results it writes.

`benchmarks/ingest.py` runs them; see benchmarks/README.md.
"""
