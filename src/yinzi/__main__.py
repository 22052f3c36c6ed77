"""``python -m yinzi``: the same as the ``yinzi`` command."""

from yinzi.cli import main

main()
