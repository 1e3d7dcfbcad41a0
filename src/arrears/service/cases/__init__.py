"""What happens on an account: payments, promises to pay, holds, complaints and their evidence,
waivers and arrangements, restructure terms, and the collections policy that bounds them.

Each use case writes in one transaction; what it makes pointless among the borrower's pending
contacts is judged after that transaction commits (:mod:`arrears.service.outreach.pending`).
May import ``books``, ``outreach`` and the shared modules."""
