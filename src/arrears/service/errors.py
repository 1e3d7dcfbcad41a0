"""Errors the service layer raises for entrypoints to map to messages and exit codes."""


class ServiceError(Exception):
    """A request the service cannot carry out; the message is for the user."""


class StoreNotReady(ServiceError):
    """The store has no schema, or an old one: run ``arrears init``."""
