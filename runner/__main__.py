"""``python -m runner``: the command line (see :mod:`runner.cli`)."""

import gc

# The cyclic garbage collector stays off for the whole command (runner.cli.entry): importing
# the loader and the engine allocates many objects and no garbage cycle, and its collections
# walked them in vain (about 1% of `runner eval` over 100 files, callgrind).
gc.disable()

from runner.cli import entry  # noqa: E402

entry()
