"""streamrt.policy."""
