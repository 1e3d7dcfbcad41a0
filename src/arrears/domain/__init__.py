"""The pure domain: money, schedules, the ledger, delinquency and penalty. No I/O here."""
