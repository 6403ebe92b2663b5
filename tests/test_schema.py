"""The JSON Schema that editors use (yaml-language-server) agrees with the loader on real specs:
every example spec validates, and typical mistakes the loader rejects are flagged by it too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "runner" / "data" / "spec.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _problems(doc: Any) -> list[str]:
    return sorted(e.message for e in VALIDATOR.iter_errors(doc))


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_validates(spec: Path) -> None:
    assert _problems(yaml.safe_load(spec.read_text())) == []


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"case": []}, "'case'"),
        (
            {"cases": [{"principal": "ci", "allow": ["pull"], "expect": "allow", "extra": 1}]},
            "'extra'",
        ),
        ({"cases": [{"principal": "ci", "action": "ecr:PutImage", "expect": "maybe"}]}, "'maybe'"),
        (
            {
                "principals": {"ci": {"arn": "arn:aws:iam::111122223333:role/ci", "sesion": "x"}},
                "cases": [],
            },
            "'sesion'",
        ),
    ],
    ids=["top-level typo", "unknown case key", "bad expectation", "principal key typo"],
)
def test_mistakes_are_flagged(doc: dict[str, Any], fragment: str) -> None:
    assert any(fragment in p for p in _problems(doc)), _problems(doc)


def test_a_case_may_name_principals_and_resources_by_arn() -> None:
    doc = {
        "cases": [
            {
                "principal": ["ci", "arn:aws:iam::222222222222:role/deployer"],
                "resource": "arn:aws:ecr:us-east-1:111122223333:repository/prod/app",
                "allow": "pull",
            }
        ]
    }
    assert _problems(doc) == []
    doc["cases"][0]["principal"] = "not a name"
    assert _problems(doc) != []
