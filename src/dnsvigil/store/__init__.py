"""The warehouse: canonical schemas, atomic Parquet writes, and the query engine seam."""
