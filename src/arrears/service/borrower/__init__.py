"""The borrower's side, behind the portal: signing in with a one-time code, the borrower's loans
and history, preferences, payments started in the portal (checkout) and what a borrower may
arrange alone (self-service). May import every room below it except ``staff``."""
