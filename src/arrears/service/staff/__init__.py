"""The staff's side: users, sessions and API tokens, the account as staff see it (masked by
role), the KPIs, the evidence log (gate decisions, the chain check, retention) and data key
rotation. May import every room below it except ``borrower``."""
