"""The policies AWS defines itself, compiled once: the engine and the loader attach them."""

from __future__ import annotations

from runner.model import PolicyKind
from runner.policy.compiled import CompiledPolicy
from runner.policy.grammar import compile_document

__all__ = ["FULL_AWS_ACCESS", "RCP_FULL_AWS_ACCESS"]

#: The predefined ``FullAWSAccess`` SCP (AWS Organizations "Service control policies").
FULL_AWS_ACCESS: CompiledPolicy = compile_document(
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
    PolicyKind.SCP,
    "FullAWSAccess",
    internal=True,
)

#: ``RCPFullAWSAccess``, which AWS attaches to every account once RCPs are enabled and which
#: cannot be detached (AWS Organizations "Resource control policies (RCPs)").
RCP_FULL_AWS_ACCESS: CompiledPolicy = compile_document(
    {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
    },
    PolicyKind.RCP,
    "RCPFullAWSAccess",
    internal=True,
)
