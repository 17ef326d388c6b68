"""``wpbxctl`` command groups, one module each (discovered automatically)."""
