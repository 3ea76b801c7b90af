"""The venue port: the commands a bot sends and the events it gets back, the one interface the paper venue and the
live Drift venue both implement, and the account report both build from the margin engine's view.

A bot's core never learns which venue answered. Immutable records, amounts in Drift precisions.
"""
