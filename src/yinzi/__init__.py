"""Yinzi: a self-hosted AI audio platform."""

__version__ = "0.1.0"
