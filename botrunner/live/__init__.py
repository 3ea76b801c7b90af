"""Live mode on Drift: the venue port on the real chain (``DriftVenue``) and everything it needs.

Settings (the ``live:`` YAML section), signing-key loading, RPC preflight, an offline driftpy client fed by our own
account reads, the account model and the diff of two readings into venue events, alerts, Drift instructions, the
transaction pipeline (build, simulate, send once, confirm), retry and circuit breaker, Jito bundles and the capital
rules (deposit, withdraw, transfer). The pure core is the paper bots' own; only the venue differs. Tested offline
against a fake Solana JSON-RPC node, never against a real chain.
"""
