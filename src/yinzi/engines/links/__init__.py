"""Short-video link analysis engines."""
