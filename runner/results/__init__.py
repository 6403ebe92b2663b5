"""The results format, in one place: a check's result dict, a results file, and reading,
validating, writing and merging results files (docs/internals.md, "Check results" and
"Results file").

Everything here is plain built-in types (dict, list, str, int, float, bool, None): a result
crosses pytest-xdist's channel and is written as JSON as it is. The pytest plugin, the command
line and the HTML report all go through these functions; none builds a result of its own.
Building, reading and writing results files are in :mod:`runner.results.build`, validating
them in :mod:`runner.results.validate`, writing any output file in
:mod:`runner.results.output`, merging in :mod:`runner.results.merge`.
"""

from runner.request_context import instant_text
from runner.results.build import (
    COMPACT_KEYS,
    assemble,
    check_id,
    check_result,
    compact_explanation,
    located,
    on_registry,
    place_key,
    policy_inventory,
    principal_label,
    problem_entry,
    read_results,
    step_result,
    warning_text,
    write_results,
)
from runner.results.merge import Source, load_results, merge_selections, policy_key, specs_of
from runner.results.output import refuse_input, write_text
from runner.results.validate import RESULTS_FORMAT, ResultsError, validate_results

__all__ = [
    "COMPACT_KEYS",
    "RESULTS_FORMAT",
    "ResultsError",
    "Source",
    "assemble",
    "check_id",
    "check_result",
    "compact_explanation",
    "instant_text",
    "load_results",
    "located",
    "merge_selections",
    "on_registry",
    "place_key",
    "policy_inventory",
    "policy_key",
    "principal_label",
    "problem_entry",
    "read_results",
    "refuse_input",
    "specs_of",
    "step_result",
    "validate_results",
    "warning_text",
    "write_results",
    "write_text",
]
