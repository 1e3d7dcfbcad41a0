"""The compliance gate: rulebooks as data, rule families as pure functions, every decision
explainable in zh-CN and en. See docs/COMPLIANCE.md."""
