"""The HTTP API (FastAPI). So far: the providers' signed webhooks; the console's and the
integrations' endpoints come with the console issue."""
