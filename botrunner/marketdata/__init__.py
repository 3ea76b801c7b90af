"""Market-data loading and validation (the edge: files in, validated integer records out)."""
