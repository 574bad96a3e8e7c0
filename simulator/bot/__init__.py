"""The trading bot stand-in: its HTTP API, its database (seed, trades, order sync, reconciliation),
its client traffic and its access log.
"""
