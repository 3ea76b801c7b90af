"""The governors between a strategy's wish and the connector: pure, no I/O, no clock.

The Risk Governor owns every hard limit and answers APPROVE, CLAMP, REDUCE_ONLY or PAUSE with its reasons (``risk``
with its limits, sizing, triggers and hysteresis); the Execution Governor decides what the connector works on this
step (``execution``); the live safety gates hold orders that need confirmation, gas or a fast enough RPC
(``safety_gates``). For a cross-venue funding arbitrage: leg-out protection of a two-venue execution
(``leg_out``) and the circuit breaker on execution failures (``arb_breaker``).
"""
