"""The Amazon ECR action catalog: every action, whether it takes a repository, and operations.

The facts come from ``data/ecr.json`` (the Service Authorization Reference actions table for
Amazon Elastic Container Registry). An action whose resource is ``*`` is *account-level*: it
acts on the caller's registry, never on one repository, so a repository policy cannot grant it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from runner import wildcards, words

__all__ = [
    "ACCOUNT_LEVEL",
    "ACTIONS",
    "OPERATIONS",
    "SERVICE_CONDITION_KEYS",
    "ActionInfo",
    "UnknownAction",
    "closest_actions",
    "is_account_level",
    "resolve_action",
]


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One ECR action. ``resource`` is ``"repository"`` or ``"*"`` (account-level)."""

    name: str
    resource: str
    access: str
    condition_keys: tuple[str, ...]

    @property
    def account_level(self) -> bool:
        """Whether the action acts on the caller's registry rather than on one repository
        (:func:`is_account_level` by name)."""
        return self.resource == "*"


class UnknownAction(ValueError):
    """An action name or pattern that names no ECR action; ``closest`` holds suggestions."""

    def __init__(self, text: str, message: str, closest: tuple[str, ...] = ()) -> None:
        self.text = text
        self.closest = closest
        super().__init__(message)


def _raw() -> Any:
    from runner.package_data import read_text

    return json.loads(read_text("ecr.json"))


def _service_keys(raw: Any) -> tuple[str, ...]:
    """The ``ecr:`` condition keys of the actions and resource types, in order of first use;
    ``${TagKey}`` at the end becomes a prefix (``ecr:ResourceTag/``)."""
    keys: dict[str, None] = {}
    tables = [*raw["actions"], *raw["resourceTypes"].values()]
    for entry in tables:
        for key in entry["conditionKeys"]:
            if str(key).startswith("ecr:"):
                keys[str(key).removesuffix("${TagKey}")] = None
    return tuple(keys)


def _load(raw: Any) -> dict[str, ActionInfo]:
    out: dict[str, ActionInfo] = {}
    for entry in raw["actions"]:
        info = ActionInfo(
            name=str(entry["name"]),
            resource=str(entry["resource"]),
            access=str(entry["access"]),
            condition_keys=tuple(str(k) for k in entry["conditionKeys"]),
        )
        out[info.name] = info
    return out


#: Canonical action name (``ecr:BatchGetImage``) -> its facts, in catalog order.
_RAW = _raw()
ACTIONS: MappingProxyType[str, ActionInfo] = MappingProxyType(_load(_RAW))
#: The condition keys Amazon ECR defines (``ecr:AccountSetting``, ``ecr:ResourceTag/``): a key
#: ending in ``/`` is a prefix for a tag key.
SERVICE_CONDITION_KEYS: tuple[str, ...] = _service_keys(_RAW)
del _RAW
_BY_LOWER: dict[str, str] = {name.lower(): name for name in ACTIONS}
#: Canonical action name -> whether it is account-level (:func:`is_account_level`), as a plain
#: dict: the engine looks every request's action up here.
ACCOUNT_LEVEL: Mapping[str, bool] = {name: info.account_level for name, info in ACTIONS.items()}

#: What ``docker pull`` / ``docker push`` need from ECR ("Pushing an image", "Pulling an image"
#: pages of the Amazon ECR User Guide).
OPERATIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "pull": ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
        "push": (
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
        ),
    }
)


def closest_actions(text: str, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` catalog names closest to ``text`` (case-insensitive), best first."""
    lowered = text.lower()
    if not lowered.startswith("ecr:"):
        lowered = "ecr:" + lowered.split(":", 1)[-1]
    scored = sorted(((words.similarity(lowered, name), name) for name in _BY_LOWER), reverse=True)
    if not scored or scored[0][0] < words.CUTOFF:
        return ()
    # only the names about as close as the best one: a clear typo gets one suggestion
    best = scored[0][0]
    floor = max(words.CUTOFF, best - 0.05)
    return tuple(_BY_LOWER[name] for score, name in scored[:n] if score >= floor)


@functools.lru_cache(maxsize=4096)  # the same few patterns recur across a run's policies
def matching_actions(pattern: str) -> tuple[str, ...]:
    """Catalog actions matched by an IAM action pattern (any case), in catalog order."""
    if "*" not in pattern and "?" not in pattern:
        name = _BY_LOWER.get(pattern.lower())
        return (name,) if name else ()
    matcher = wildcards.compile_pattern(pattern, ignore_case=True)
    return tuple(name for name in ACTIONS if matcher.fullmatch(name))


def resolve_action(text: str) -> list[str]:
    """Canonical ECR action names for ``text``: an action in any case (``ECR:batchgetimage``)
    or a pattern (``ecr:Delete*``). Raises :class:`UnknownAction` when it names nothing, with
    the closest names in the message."""
    if not text.lower().startswith("ecr:"):
        closest = closest_actions(text)
        raise UnknownAction(
            text,
            f"{text!r} is not an Amazon ECR action: ECR actions start with 'ecr:'"
            + words.did_you_mean(closest),
            closest,
        )
    found = matching_actions(text)
    if found:
        return list(found)
    if "*" in text or "?" in text:
        raise UnknownAction(text, f"the pattern {text!r} matches no Amazon ECR action")
    closest = closest_actions(text)
    raise UnknownAction(
        text, f"unknown Amazon ECR action {text!r}" + words.did_you_mean(closest), closest
    )


def is_account_level(action: str) -> bool:
    """True for an action whose resource is ``*`` (e.g. ``ecr:GetAuthorizationToken``).
    ``action`` is a canonical name; raises KeyError for anything else."""
    return ACCOUNT_LEVEL[action]
