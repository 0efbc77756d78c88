"""Triage (判定): category, severity, validity and responsibility of each complaint."""
