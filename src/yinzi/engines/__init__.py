"""Audio engines: pure functions of audio in, audio or text out.

Engines know nothing of HTTP, the database or credits. Each family has one small interface
(``base.py`` in its folder) and named implementations registered in :mod:`yinzi.engines.registry`.
"""
