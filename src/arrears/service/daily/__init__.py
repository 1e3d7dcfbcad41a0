"""The daily cycle and what feeds it: the cycle as a use case (:mod:`.cycle`), its write-back in
one transaction per business date (:mod:`.writeback`), the runs' hash chain and stored plans
(:mod:`.runs`), plan diffs, strategy versions, portfolio snapshots and ingestion.

May import ``books``, ``outreach``, ``cases`` (the cycle decides promises and arrangements) and
the shared modules."""
