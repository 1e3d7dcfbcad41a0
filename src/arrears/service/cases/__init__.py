"""What happens on an account: payments, promises to pay, holds, complaints and their evidence,
waivers and arrangements, restructure terms, and the collections policy that bounds them.

Each use case writes in one transaction, then reports what happened as an event to
:func:`arrears.service.outreach.pending.after_commit`, which judges the borrower's pending
contacts again in transactions of its own. Posting a payment, for instance, is one
transaction (the payment and the promise parts it keeps); after it commits come the review of
the loan's arrangements (a settlement reached, a plan completed: its own transaction) and the
second look. A crash between them leaves the payment posted: the next cycle reviews the
active arrangements before it plans, and the dispatcher judges every action again before it
sends it.

May import ``books``, ``outreach`` and the shared modules."""
