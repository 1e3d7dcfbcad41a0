"""arrears: debt collections for consumer instalment lenders."""

__version__ = "0.1.0"
