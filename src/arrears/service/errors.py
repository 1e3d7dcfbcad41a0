"""What a use case refuses, by kind. Entrypoints map them by type, never by their text: the API
to a problem+json status with ``field`` (:func:`arrears.web.api.deps.service_call`), the
console and the portal to a message on the page, the command line to a message and exit
status 1.

* :class:`Invalid` -- the input is wrong (a value out of its domain, a date in the future, an
  amount above the payoff, a file that does not read);
* :class:`NotFound` -- what the input names is not in the store (the API answers 404);
* :class:`Conflict` -- the input clashes with the state (posted already, decided meanwhile, a
  pending promise first);
* :class:`Forbidden` -- the caller's role may not do it;
* :class:`LimitExceeded` -- beyond a limit of the portfolio's policy (how far out, how many
  parts, how much forgiven, how many days to catch up).

The API answers 422 for every kind but :class:`NotFound`, as it always has.
"""


class ServiceError(Exception):
    """A request the service cannot carry out; the message is for the user, and ``field``
    names the input at fault when one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Invalid(ServiceError):
    """The input is wrong."""


class NotFound(ServiceError):
    """What the input names is not in the store."""


class Conflict(ServiceError):
    """The input clashes with the state of what it names."""


class Forbidden(ServiceError):
    """The caller's role may not do this."""


class LimitExceeded(ServiceError):
    """Beyond a limit of the portfolio's collections policy."""


class StoreNotReady(ServiceError):
    """The store has no schema, or an old one: run ``arrears init``."""
