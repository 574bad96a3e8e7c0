"""Stand-in for what cannot run here: the broker (Alpaca REST), the bot's HTTP API and Supabase auth.

`python -m simulator` serves all four surfaces (broker, bot API, Supabase auth, fault-injection control)
from one process over real HTTP; see docs/simulator.md.
"""
