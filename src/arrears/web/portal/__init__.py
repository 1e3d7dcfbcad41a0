"""The borrower portal (issue 8): so far, "Is this contact real?" (``/verify``)."""
