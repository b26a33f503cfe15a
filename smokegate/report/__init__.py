"""Pure renderers of a run's results: `summary` (summary.md), `console` (the block at the end
of pytest's output) and `provenance` (which suite produced a report)."""
