"""Prometheus exporters for the trading bot: stale backlog, ghost positions, auth failures."""
