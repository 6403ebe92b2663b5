"""The IAM policy language: validation and compilation, conditions, wildcards and variables.

``compile_policy(document, kind, name=...)`` validates a document for where it is attached and
returns a :class:`CompiledPolicy`, or raises :class:`~runner.model.PolicyInvalid` with every
problem found.
"""

from runner.policy.validate import (
    FULL_AWS_ACCESS,
    RCP_FULL_AWS_ACCESS,
    CompiledPolicy,
    CompiledStatement,
    RepeatedKey,
    compile_policy,
    unique_keys,
)

__all__ = [
    "FULL_AWS_ACCESS",
    "RCP_FULL_AWS_ACCESS",
    "CompiledPolicy",
    "CompiledStatement",
    "RepeatedKey",
    "compile_policy",
    "unique_keys",
]
