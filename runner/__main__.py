"""``python -m runner``: the command line (see :mod:`runner.cli`)."""

from runner.cli import entry

entry()
