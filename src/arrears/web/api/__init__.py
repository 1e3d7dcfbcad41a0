"""The HTTP API under ``/api/v1`` (FastAPI): the integrations' endpoints (token auth) and the
providers' signed webhooks."""
