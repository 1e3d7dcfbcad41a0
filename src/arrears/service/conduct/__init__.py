"""Conduct assurance: every contact a person makes judged by the gate at the moment it is made
or recorded, breaches recorded as such with an alert, the alerts a compliance reviewer
confirms or dismisses, and the evidence of agent calls, visits and notes in the hash chain.

May import ``outreach`` (the account as the gate sees it, contact records), ``cases`` (the
collections policy) and the shared modules."""
