"""The bot: one pure decision step (``pipeline``) and the driver every shell holds around it (``session``), plus
the operator state machine over its flags (``lifecycle``).

Pure like the core below it: no I/O, no clock, no threads, no logging. Backtests call the driver in a loop; the
actors (``actors/``) call the same driver from their mailboxes; the live and paper venues sit above it.
"""
