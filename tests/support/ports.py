"""Loopback ports for servers the tests start (the stack's own helpers)."""

from stack.ports import free_port, port_open, wait_for_port

__all__ = ["free_port", "port_open", "wait_for_port"]
