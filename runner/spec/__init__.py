"""Spec files: reading YAML safely, includes, policy sources, principals and resources, and the
expansion of cases into checks. ``load_spec(path)`` returns a :class:`~runner.model.Spec` or
raises :class:`~runner.errors.SpecError` with every problem located.
"""

from runner.spec.loader import SPEC_KEYS, load_spec, looks_like_spec

__all__ = ["SPEC_KEYS", "load_spec", "looks_like_spec"]
