"""Strategies: which accounts get which treatment, as validated data (issue 4 builds on this)."""
