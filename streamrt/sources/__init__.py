"""streamrt.sources."""
