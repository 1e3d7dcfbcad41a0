"""Ingestion of lender files (CSV, Parquet, JSON lines) into the store: see docs/DATA_FORMATS.md."""
