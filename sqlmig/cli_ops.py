"""Release operations commands (backup, restore, seeds, metrics, wait): see issue 4."""
