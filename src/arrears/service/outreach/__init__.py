"""Contacting borrowers. The dispatcher works the day's plan in steps: :mod:`.lease` claims a
batch, :mod:`.pending` takes a second look at each action, :mod:`.prepare` renders and writes
the message, :mod:`.send` hands it over, :mod:`.record` writes what the provider said
(:mod:`.dispatch` runs the rounds; :mod:`.state` holds what the steps share). Beside it:
templates, verification codes, worklists for agent calls and visits, provider callbacks, agency
placement and legal packages.

May import ``books`` and the shared modules. :mod:`.pending` is how every other room reacts to
what makes a pending contact pointless: it runs after their transaction commits."""
