"""Use cases: what the console, the API, the portal and the command line ask of arrears, one
function each, in rooms by the part of the business they serve. Each room's ``__init__`` says
what lives there and what it may import; ``scripts/layers.py`` checks it on every CI run.

Rooms, from the bottom (a room may import the shared modules and the rooms below it, never one
above; ``borrower`` and ``staff`` sit side by side and do not import each other):

* ``books`` -- what an account owes and how late: statements, the DPD bands;
* ``queries`` -- the reads the entrypoints show, as typed records;
* ``outreach`` -- contacting borrowers: the dispatcher's steps, templates, verification codes,
  worklists, provider callbacks, agency placement and legal packages;
* ``cases`` -- what happens on an account: payments, promises, holds, complaints and their
  evidence, waivers and arrangements, restructure terms, the collections policy;
* ``daily`` -- the daily cycle's write-back and runs, plans and diffs, strategies, portfolio
  snapshots, ingestion;
* ``borrower`` -- the portal: sign-in, checkout, self-service;
* ``staff`` -- users, sessions and tokens, the account view, KPIs, the evidence log, key rotation.

Shared by every room: :mod:`.errors` (what a use case refuses), :mod:`.store` (the schema
check), :mod:`.throttle` (attempt counters).

Below the service: the domain, the compliance gate, the strategy language, the cycle's engine,
the store and the channels; above it, only the entrypoints (``web``, ``cli``) and the demo's
generator.
"""
