"""The pure core's shared vocabulary: precisions, markets, intents, verdicts. No I/O, no clock, no threads."""
