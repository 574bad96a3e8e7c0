"""`python -m doctor`: read-only readiness checks of a configuration against the real bot (its database
through the mapping, its access log and endpoints, the broker and Supabase), as a table, exiting non-zero
with one line naming the first blocking problem. ``--suggest`` prints a starting mapping instead."""
