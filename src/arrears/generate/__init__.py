"""A realistic portfolio generator writing the ingestion format (see docs/DATA_FORMATS.md)."""
