"""The IAM policy language: grammar and compilation, compiled types, limits, predefined
policies, conditions, wildcards, variables and matching.

``compile_policy(document, kind, name=...)`` validates a document for where it is attached and
returns a :class:`CompiledPolicy`, or raises :class:`~runner.model.PolicyInvalid` with every
problem found.

The rooms: :mod:`~runner.policy.grammar` (the document and its statements), ``elements``
(Action, Resource and Principal values), ``limits`` (size and characters), ``compiled`` (what
the engine reads), ``predefined`` (FullAWSAccess, RCPFullAWSAccess), ``conditions`` and
``operators`` (the Condition element), ``variables`` (policy text with variables, matched by
the wildcard matchers of :mod:`runner.wildcards`, which the action catalog uses too),
``matching`` (actions, resources, principals at evaluation).
"""

from runner.policy.compiled import CompiledPolicy, CompiledStatement, Effect, PolicyVersion
from runner.policy.grammar import RepeatedKey, compile_policy, unique_keys
from runner.policy.predefined import FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS

__all__ = [
    "FULL_AWS_ACCESS",
    "RCP_FULL_AWS_ACCESS",
    "CompiledPolicy",
    "CompiledStatement",
    "Effect",
    "PolicyVersion",
    "RepeatedKey",
    "compile_policy",
    "unique_keys",
]
