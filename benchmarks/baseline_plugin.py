"""The floor for issue 5: a bare pytest plugin that reads the same spec YAML files and yields
one no-op item per check (principal x resource x action), with the same ids. It evaluates
nothing; the difference between it and pytest-policyspec is what the policy work costs.

Used by bench_scale.py as ``-p baseline_plugin`` with this folder on PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.File | None:
    if file_path.suffix in (".yaml", ".yml") and not file_path.name.startswith("_"):
        return NoopFile.from_parent(parent, path=file_path)
    return None


class NoopFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        # libyaml composes a node graph with marks, then constructs: the same parse the
        # real loader pays for
        doc = yaml.load(self.path.read_text(), Loader=_Loader) or {}
        for index, case in enumerate(doc.get("cases") or [], 1):
            label = case.get("name") or f"case{index}"
            actions = _as_list(case.get("allow")) + _as_list(case.get("deny"))
            actions += _as_list(case.get("action"))
            for principal in _as_list(case.get("principal")):
                for resource in _as_list(case.get("resource")) or [None]:
                    for action in actions:
                        combo = "-".join(x for x in (principal, resource, action) if x)
                        yield NoopItem.from_parent(self, name=f"{label}[{combo}]")


class NoopItem(pytest.Item):
    def runtest(self) -> None:
        pass

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name
