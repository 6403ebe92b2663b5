"""Hostile input: every reader turns a damaged source into located problems, never a
traceback. Each fixture is damaged at random places (fixed seeds), a few hundred times."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.model import SourceLoc
from runner.spec.imports.authdetails import parse_authorization_details
from runner.spec.imports.cloudformation import parse_template
from runner.spec.imports.common import ImportResult, Settings
from runner.spec.imports.orgpolicy import parse_organization_policy
from runner.spec.imports.terraform import parse_plan

DATA = Path(__file__).parent / "data" / "imports"
SETTINGS = Settings("111122223333", "us-east-1", {"Env": "prod"})
JUNK: list[Any] = [
    None,
    True,
    0,
    12,
    "",
    "x",
    [],
    {},
    [1],
    {"a": 1},
    "{",
    "arn:aws:iam::aws:policy/X",
]
Reader = Callable[[str, str, Settings], ImportResult]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _damage(doc: Any, rnd: random.Random) -> None:
    path = rnd.choice(list(_paths(doc))[1:])
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = json.loads(json.dumps(rnd.choice(JUNK)))


@pytest.mark.parametrize(
    ("reader", "fixture"),
    [
        (parse_plan, "terraform/registry-plan.json"),
        (parse_plan, "terraform/groups-plan.json"),
        (parse_authorization_details, "authorization-details/account.json"),
        (parse_organization_policy, "organization-policy/deny-delete.json"),
        (parse_template, "cloudformation/registry.json"),
    ],
    ids=[
        "terraform-plan",
        "terraform-groups",
        "authorization-details",
        "organization-policy",
        "cloudformation",
    ],
)
def test_damaged_sources_give_located_problems(reader: Reader, fixture: str) -> None:
    text = (DATA / fixture).read_text()
    rnd = random.Random(fixture)
    refused = 0
    for _ in range(200):
        doc = json.loads(text)
        for _ in range(rnd.randint(1, 3)):
            _damage(doc, rnd)
        damaged = json.dumps(doc, indent=1)
        result = reader("f.json", damaged, SETTINGS)  # never raises
        lines = damaged.count("\n") + 1
        for problem in result.problems:
            assert isinstance(problem.loc, SourceLoc)
            assert problem.loc.file == "f.json" and 1 <= problem.loc.line <= lines
        refused += bool(result.problems)
    assert refused > 0  # the damage is noticed, not only survived


def test_damaged_template_yaml() -> None:
    text = (DATA / "cloudformation" / "registry.yaml").read_text()
    rnd = random.Random(3)
    words = [
        "!Ref",
        "!Sub",
        "!GetAtt",
        "!If",
        "!Join",
        "!Select",
        "!Split",
        "!FindInMap",
        "!Equals",
        "!Base64",
        "[]",
        "{}",
        "~",
        "1",
        "!Ref AWS::NoValue",
        "!Condition IsProd",
    ]
    for _ in range(300):
        lines = text.split("\n")
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(lines))
            key, colon, rest = lines[i].partition(":")
            if colon:
                lines[i] = (
                    f"{key}: {rnd.choice(words)} {rest.strip() if rnd.random() < 0.5 else ''}"
                )
        result = parse_template("t.yaml", "\n".join(lines), SETTINGS)
        for problem in result.problems:
            assert problem.loc is not None and problem.loc.file == "t.yaml"
