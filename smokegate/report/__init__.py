"""Renderers of a run's results: `summary` (summary.md) and `console` (the block at the end of
pytest's output), pure; and `provenance` (which suite produced a report), which asks git.
None of them loads a network, AWS or test library (import-linter contract)."""
