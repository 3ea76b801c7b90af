"""The runtime: one actor per bot under a supervisor, the paced market feed, and the shell they share."""
