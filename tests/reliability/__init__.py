"""Reliability suite: exchange, channel, process and input faults (``-m reliability``)."""
