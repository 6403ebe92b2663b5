"""The pytest plugin: spec files become test files, each check one test item.

Registered through the ``pytest11`` entry point ``policyspec`` (module ``runner.plugin``); in a
source checkout, ``-p runner.plugin`` (or the repository's conftest.py). This package is the
only place that imports pytest:

- :mod:`runner.plugin.items`: options, collection (``SpecFile``, ``CheckItem``), failure
  text, and the results and report written at the end of the session;
- :mod:`runner.plugin.xdist`: pytest-xdist scheduling (one spec file, one worker) and the
  compact transport of passing checks' reports;
- :mod:`runner.plugin.clock`: the run's one instant, handed to the workers and set as the
  engine's clock;
- :mod:`runner.plugin.gcfreeze`: keeping a large run's live objects away from the cyclic
  garbage collector, with the measurements behind it.

pytest finds the hooks as attributes of this module: they are re-exported here.
"""

from runner.plugin.items import (
    CheckItem,
    PolicySpecWarning,
    SpecFile,
    pytest_addoption,
    pytest_collect_file,
    pytest_configure,
    pytest_configure_node,
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
    pytest_unconfigure,
)
from runner.plugin.xdist import (
    pytest_report_from_serializable,
    pytest_report_to_serializable,
    pytest_xdist_make_scheduler,
)

__all__ = [
    "CheckItem",
    "PolicySpecWarning",
    "SpecFile",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_make_collect_report",
    "pytest_report_from_serializable",
    "pytest_report_to_serializable",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_unconfigure",
    "pytest_xdist_make_scheduler",
]
