"""Source separation engines."""
