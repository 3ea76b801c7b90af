"""The I/O edge to Drift: decode raw account bytes with driftpy and convert them into our own model.

Nothing outside this package (and ops/ scripts) imports driftpy; the margin engine and the catalogue never do.
"""
