"""The broker stand-in: Alpaca's Trading REST API over an in-memory order book, with Alpaca's JSON."""
