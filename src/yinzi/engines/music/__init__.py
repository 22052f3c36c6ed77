"""Music generation engines."""
