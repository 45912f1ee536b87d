"""streamrt.observe."""
