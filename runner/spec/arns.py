"""Principals and repositories that a case names by ARN instead of by name.

``spec-format.md``, "ARNs in cases": a defined (or imported) principal or resource with that
ARN is the one meant; an ARN that nothing defines is a principal with nothing attached, or a
repository without a policy. A role ARN that nothing defines is a session of the role named
after the role (``arn:aws:iam::222222222222:role/deployer`` is the session ``deployer``; a
role whose name has one character, too short for a session name, ``NAME-session``).
"""

from __future__ import annotations

import re

from runner import model, words
from runner.spec.entities import Entities
from runner.spec.nodes import Reader, SourceFile
from runner.spec.yamlsafe import Node, excerpt

__all__ = ["ArnReferences", "id_part", "is_arn"]

_NOT_IN_IDS = re.compile(r"[^A-Za-z0-9_.+=,@/-]+")


def is_arn(text: str) -> bool:
    """Whether a case's principal or resource is written as an ARN (a name has no colon)."""
    return text.startswith("arn:")


def id_part(name: str) -> str:
    """A principal's or resource's name as a part of a test id: an ARN with each run of its
    colons (which pytest reads as node id separators) written as one ``-``."""
    return _NOT_IN_IDS.sub("-", name) if ":" in name else name


class ArnReferences:
    """The principals and resources of one spec file named by ARN, each built once."""

    def __init__(self, reader: Reader, entities: Entities) -> None:
        self.reader = reader
        self.entities = entities
        self._principals: dict[str, model.Principal | None] = {}
        self._resources: dict[str, model.Resource | None] = {}
        self._principal_index: dict[str, list[str]] | None = None
        self._resource_index: dict[str, list[str]] | None = None

    def _index_principals(self) -> dict[str, list[str]]:
        if self._principal_index is None:
            index: dict[str, list[str]] = {}
            for name in self.entities.principal_names:
                if self.entities.is_class(name):
                    continue
                p = self.entities.principal(name)
                if p is None:
                    continue
                for arn in {p.arn, p.session_arn} - {None}:
                    assert arn is not None
                    index.setdefault(arn, []).append(name)
            self._principal_index = index
        return self._principal_index

    def _index_resources(self) -> dict[str, list[str]]:
        if self._resource_index is None:
            index: dict[str, list[str]] = {}
            for name in self.entities.resource_names:
                r = self.entities.resource(name)
                if r is not None:
                    index.setdefault(r.arn, []).append(name)
            self._resource_index = index
        return self._resource_index

    def _ambiguous(self, f: SourceFile, node: Node, arn: str, what: str, names: list[str]) -> None:
        self.reader.error(
            f,
            node,
            f"{excerpt(arn)} is the ARN of the {what} {words.join(names)}; name the one meant",
        )

    def principal(self, f: SourceFile, node: Node, arn: str) -> model.Principal | None:
        """The principal ``arn`` means, or None after reporting why there is none."""
        names = self._index_principals().get(arn, [])
        if len(names) > 1:
            self._ambiguous(f, node, arn, "principals", names)
            return None
        if names:
            return self.entities.principal(names[0])
        if arn not in self._principals:
            self._principals[arn] = self._bare_principal(f, node, arn)
        return self._principals[arn]

    def _bare_principal(self, f: SourceFile, node: Node, arn: str) -> model.Principal | None:
        session: str | None = None
        if arn.startswith("arn:aws:iam::") and ":role/" in arn:
            role = arn.rsplit("/", 1)[-1]
            session = role if len(role) >= 2 else f"{role}-session"
        try:
            return model.principal_from_arn(arn, arn, session=session)
        except model.ModelError as exc:
            self.reader.error(f, node, str(exc))
            return None

    def resource(self, f: SourceFile, node: Node, arn: str) -> model.Resource | None:
        """The repository ``arn`` means, or None after reporting why there is none."""
        names = self._index_resources().get(arn, [])
        if len(names) > 1:
            self._ambiguous(f, node, arn, "resources", names)
            return None
        if names:
            return self.entities.resource(names[0])
        if arn not in self._resources:
            try:
                self._resources[arn] = model.repository(arn, arn)
            except model.ModelError as exc:
                self.reader.error(f, node, str(exc))
                self._resources[arn] = None
        return self._resources[arn]
