"""Schema commands (dump, diff, round-trip test): see issue 3."""
