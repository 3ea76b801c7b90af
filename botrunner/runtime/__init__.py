"""The runtime helpers the shells share: market events and paced feeds, the paper bot's driver, decision recording,
status views and the event hub, the restart policy and locks. No actor lives here: those are in actors/."""
