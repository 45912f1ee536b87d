"""streamrt.store."""
