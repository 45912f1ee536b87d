"""streamrt.runtime."""
