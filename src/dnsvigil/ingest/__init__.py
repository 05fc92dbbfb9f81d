"""Readers that turn each source format into Arrow batches of one canonical schema."""
