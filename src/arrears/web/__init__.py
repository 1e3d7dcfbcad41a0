"""The web entrypoints: the HTTP API (api/), the staff console (console/)."""
