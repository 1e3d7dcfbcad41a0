"""The reads the entrypoints show, as typed records; may import ``books`` and the service's
shared modules, nothing else of the service.

By subject: :mod:`.loans` (the loans and whose they are), :mod:`.casework` (promises,
arrangements, complaints), :mod:`.day_plan` (the day's planned actions and the cycle's runs),
:mod:`.evidence_search` (the evidence log, the gate's decisions, one account's evidence),
:mod:`.team` (queues, the team and the agencies as the supervisor sees them, an agency's
placements) and :mod:`.templates_listed` (the contact templates in force). A paged listing is a
:class:`.listing.Listing`: one page of rows and how many there are in all."""
