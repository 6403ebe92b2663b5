"""Spec files: reading YAML safely, includes, policy sources, principals and resources, and the
expansion of cases into checks. ``load_spec(path)`` returns a :class:`~runner.model.Spec` or
raises :class:`~runner.errors.SpecError` with every problem located; ``find_spec_files`` and
``looks_like_spec`` say which files are specs.
"""

from runner.spec.discovery import SKIP_DIRS, find_spec_files, looks_like_spec
from runner.spec.includes import SPEC_KEYS
from runner.spec.loader import load_spec

__all__ = ["SKIP_DIRS", "SPEC_KEYS", "find_spec_files", "load_spec", "looks_like_spec"]
