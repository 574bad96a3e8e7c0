"""Fault injection: the fault kinds and their options, what is active, the injectors, the control API
and `python -m simulator inject`.
"""
