"""streamrt.lang."""
