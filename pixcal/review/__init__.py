"""Offline review of run files: grades, plots and the static HTML report (docs/review.md)."""
