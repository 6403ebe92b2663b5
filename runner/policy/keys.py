"""Condition keys a policy may name: the AWS global ones and those of Amazon ECR.

AWS accepts any key in a policy: a misspelt one (``aws:PrincipleOrgID``) is simply missing
from every request, so the condition it is in always or never holds. :func:`unknown_key` says
so for an ``aws:`` key that is not a global condition key and for an ``ecr:`` key that ECR does
not define, with the closest key; keys of other services (``s3:``, ``kms:``) are not checked.
Key names are compared ignoring case, as AWS does ("IAM JSON policy elements: Condition":
condition key names are not case-sensitive).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from runner import catalog, words
from runner.model import PolicyPath, PolicyProblem, RequestContext
from runner.policy.compiled import CompiledStatement, PolicyVersion
from runner.policy.operators import Family
from runner.policy.variables import TemplateError, compile_template

__all__ = [
    "ECR_KEYS",
    "GLOBAL_KEYS",
    "is_known",
    "statement_warnings",
    "suggestion",
    "unknown_key",
]

#: The AWS global condition context keys, as the IAM User Guide lists them in "AWS global
#: condition context keys" (the table at the top of the page: properties of the principal, of
#: a role session, of the network, of the resource and of the request; its ``aws:`` keys). The
#: keys ending in ``/`` are prefixes: a tag key follows them.
GLOBAL_KEYS: tuple[str, ...] = (
    # properties of the principal
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalOrgID",
    "aws:PrincipalTag/",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    # properties of a role session
    "aws:AssumedRoot",
    "aws:FederatedProvider",
    "aws:TokenIssueTime",
    "aws:SignInSessionArn",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:ChatbotSourceArn",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:SourceIdentity",
    # properties of the network
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:VpcSourceIp",
    # properties of the resource
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:ResourceTag/",
    # properties of the request
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CalledViaAWSMCP",
    "aws:ViaAWSService",
    "aws:ViaAWSMCPService",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:referer",
    "aws:RequestedRegion",
    "aws:RequestTag/",
    "aws:TagKeys",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:UserAgent",
    "aws:IsMcpServiceAction",
)

#: The ``ecr:`` keys of the Service Authorization Reference for Amazon ECR (data/ecr.json:
#: the keys of its actions and resource types; ``${TagKey}`` becomes a prefix).
ECR_KEYS: tuple[str, ...] = catalog.SERVICE_CONDITION_KEYS

_KNOWN = {
    "aws": (GLOBAL_KEYS, "an AWS global condition key"),
    "ecr": (ECR_KEYS, "a condition key of Amazon ECR"),
}
_EXACT = {k.lower() for keys, _ in _KNOWN.values() for k in keys if not k.endswith("/")}
_PREFIXES = tuple(k.lower() for keys, _ in _KNOWN.values() for k in keys if k.endswith("/"))


def _service(key: str) -> str:
    return key.split(":", 1)[0].lower()


def is_known(key: str) -> bool:
    """Whether ``key`` is a key this module knows, or one of a service it does not check."""
    if _service(key) not in _KNOWN:
        return True
    lowered = key.lower()
    if lowered in _EXACT:
        return True
    return any(lowered.startswith(p) and len(lowered) > len(p) for p in _PREFIXES)


def suggestion(key: str) -> str | None:
    """The known key closest to ``key`` (with its tag key kept after a prefix), or None."""
    known, _ = _KNOWN[_service(key)]
    head, slash, tail = key.partition("/")
    if slash:
        prefixes = [k for k in known if k.endswith("/")]
        best = words.closest(head + "/", prefixes)
        return None if best is None else best + (tail or "TAG-KEY")
    for k in known:  # a prefix without its tag key (aws:PrincipalTag)
        if k.lower() == key.lower() + "/":
            return k + "TAG-KEY"
    names = [k for k in known if not k.endswith("/")]
    names += [k + "TAG-KEY" for k in known if k.endswith("/")]
    return words.closest(key, names)


def unknown_key(key: str) -> str | None:
    """The start of a warning for an ``aws:`` or ``ecr:`` key that is not known, or None:
    ``unknown condition key K; did you mean L?`` (or what K is not). The caller says what
    follows from it."""
    if is_known(key):
        return None
    best = suggestion(key)
    if best is not None:
        return f"unknown condition key {key}{words.did_you_mean([best])}"
    return f"unknown condition key {key} (not {_KNOWN[_service(key)][1]});"


_ACCEPTED = "AWS accepts it, but no request carries it"
_NO_CONTEXT = RequestContext()
# the families whose values may hold policy variables ("Policy variables")
_TEXT_FAMILIES = frozenset(
    {Family.STRING, Family.STRING_IGNORE_CASE, Family.STRING_LIKE, Family.ARN}
)


def statement_warnings(
    raw: Mapping[object, object], stmt: CompiledStatement, version: PolicyVersion
) -> list[PolicyProblem]:
    """A warning for every unknown ``aws:`` or ``ecr:`` key a valid statement reads, at its
    path: a key of its Condition block, or a policy variable in a Resource, NotResource or
    String or Arn condition value."""
    out: list[PolicyProblem] = []
    if stmt.conditions is not None:
        for entry in stmt.conditions.entries:
            start = unknown_key(entry.key)
            if start is None:
                continue
            # what the engine makes of a missing key, for this very test
            holds = entry.test(None, _NO_CONTEXT)
            outcome = "always true" if holds else "always false, and this statement never applies"
            out.append(
                PolicyProblem(
                    (*stmt.path, "Condition", entry.operator, entry.key),
                    f"{start} {_ACCEPTED}, so {entry.operator} on it is {outcome}",
                )
            )
    if version is PolicyVersion.V2012:
        for where, text in _variable_texts(raw, stmt):
            if "${" not in text:
                continue
            try:
                template = compile_template(text, version=version)
            except TemplateError:  # pragma: no cover - the statement compiled
                continue
            for variable in template.variables:
                start = unknown_key(variable.key)
                if start is None:
                    continue
                then = (
                    f"its default {variable.default!r} is used"
                    if variable.default is not None
                    else "this value matches nothing"
                )
                out.append(
                    PolicyProblem(
                        (*stmt.path, *where),
                        f"{start} {_ACCEPTED}, so the policy variable ${{{variable.key}}} "
                        f"has no value and {then}",
                    )
                )
    return out


def _variable_texts(
    raw: Mapping[object, object], stmt: CompiledStatement
) -> Iterator[tuple[PolicyPath, str]]:
    """The texts of a statement in which policy variables are substituted, with their paths
    relative to the statement."""
    for element in ("Resource", "NotResource"):
        yield from _texts(raw.get(element), (element,))
    block = raw.get("Condition")
    if stmt.conditions is None or not isinstance(block, Mapping):
        return
    for entry in stmt.conditions.entries:
        if entry.base.family in _TEXT_FAMILIES:
            body = block.get(entry.operator)
            if isinstance(body, Mapping):
                where = ("Condition", entry.operator, entry.key)
                yield from _texts(body.get(entry.key), where)


def _texts(value: object, where: PolicyPath) -> Iterator[tuple[PolicyPath, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield (*where, i), item
