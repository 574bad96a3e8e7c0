"""Throwaway PostgreSQL databases for the benchmarks (the stack's helpers)."""

from stack.databases import DEFAULT_URL, conninfo, problem, server_url, temporary_database

__all__ = ["DEFAULT_URL", "conninfo", "problem", "server_url", "temporary_database"]
