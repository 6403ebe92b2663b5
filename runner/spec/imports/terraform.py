"""``terraform show -json PLANFILE``: the IAM users and roles, ECR repositories and
organization policies a plan leaves behind.

Shape: Terraform's "JSON Output Format" page. Values are read from
``resource_changes[].change.after`` (``after_unknown`` says which are known only after apply)
and, for data sources read while planning, from ``prior_state``. A value known only after apply
is an error at its place, except the attributes that are unknown only because the provider
computes them: a new role's ``managed_policy_arns`` and ``inline_policy`` when the
configuration does not set them (the attachment resources of the plan say what they hold), and
the ``arn``/``name``/``id`` of a user, role, policy or repository that the plan creates, found
through ``configuration``'s ``references``.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.errors import Problem
from runner.model import PolicyKind, PolicyPath, SourceLoc
from runner.policy import managed
from runner.spec.imports.common import (
    ImportedOrgPolicy,
    ImportedPolicy,
    ImportedPrincipal,
    ImportedRepository,
    ImportKind,
    ImportResult,
    PrincipalKind,
    Settings,
    unique_by_name,
)
from runner.spec.imports.jsonpos import JsonProblem, parse_json
from runner.spec.imports.tfplan import Plan, Res, Unknown
from runner.words import TAGS_DIFFER_IN_CASE

__all__ = ["parse_plan"]

_ORG_KINDS = {
    "SERVICE_CONTROL_POLICY": PolicyKind.SCP,
    "RESOURCE_CONTROL_POLICY": PolicyKind.RCP,
}
#: the exclusive resources of groups are not read: a member's group policies could be wrong,
#: so a plan with them is refused rather than read without them
_GROUP_TYPES = frozenset(
    {"aws_iam_group_policies_exclusive", "aws_iam_group_policy_attachments_exclusive"}
)


class _Reader(Plan):
    """What the plan leaves behind: principals with their policies, repositories, SCPs."""

    def policy_by_arn(self, r: Res, attr: str, arn: object) -> ImportedPolicy:
        """The policy an attribute names: a policy of this plan, a shipped AWS managed one, or
        (when the value is unknown) the plan's policy its configuration references."""
        if self.is_unknown(r, attr):
            target = self.referenced(r, attr)
            if target is None or target.type != "aws_iam_policy":
                self.known(r, attr)  # reports it
            assert target is not None
            return self.customer_policy(target)
        loc = self.at(r, (attr,))
        if not isinstance(arn, str):
            self.err(loc, f"{r.address}: {attr} must be a policy ARN")
            raise Unknown
        if managed.is_aws_managed_arn(arn):
            return self.shipped(r, loc, arn)
        target = self.policy_with_arn(arn)
        if target is not None:
            return self.customer_policy(target)
        self.err(
            loc,
            f"{r.address}: {attr} {arn} is not a policy this plan creates or manages, so its "
            "document is unknown; add the policy to the configuration, or import the account "
            "with authorization-details",
        )
        raise Unknown

    def customer_policy(self, p: Res) -> ImportedPolicy:
        return self.document(p, ("policy",), self.name_of(p))

    # -- entities

    def link(self) -> None:
        """Which user or role each policy and attachment resource names, once for all."""
        self.links: dict[int, list[tuple[str, Res]]] = {}
        #: users' groups: id(user) -> (the resource and attribute that names it, group name)
        self.memberships: dict[int, list[tuple[Res, str, str]]] = {}
        named = self.named = {}
        for r in self.of_type("aws_iam_role", "aws_iam_user", "aws_iam_group"):
            name = r.values.get("name")
            if isinstance(name, str) and not self.is_unknown(r, "name"):
                named.setdefault((r.type, self.account_of(r), name), r)
        for rtype, key, how in (
            ("aws_iam_role_policy", "role", "inline"),
            ("aws_iam_role_policy_attachment", "role", "attach"),
            ("aws_iam_user_policy", "user", "inline"),
            ("aws_iam_user_policy_attachment", "user", "attach"),
            ("aws_iam_group_policy", "group", "inline"),
            ("aws_iam_group_policy_attachment", "group", "attach"),
        ):
            target_type = f"aws_iam_{key}"
            for x in self.of_type(rtype):
                target: Res | None
                if self.is_unknown(x, key):
                    target = self.referenced(x, key)
                    if target is None or target.type != target_type:
                        try:
                            self.known(x, key)  # reports it
                        except Unknown:
                            continue
                else:
                    target = named.get((target_type, self.account_of(x), str(x.values.get(key))))
                    if target is None and key != "group":
                        self.absent(x, (key,), key, x.values.get(key))
                if target is not None:
                    self.links.setdefault(id(target), []).append((how, x))
        for x in self.of_type("aws_iam_policy_attachment"):
            for key in ("roles", "users", "groups"):
                try:
                    members = self.listed(x, key)
                except Unknown:
                    continue
                for i, member in enumerate(members):
                    target = named.get((f"aws_iam_{key[:-1]}", self.account_of(x), str(member)))
                    if target is not None:
                        self.links.setdefault(id(target), []).append(("attach", x))
                    elif key != "groups":
                        self.absent(x, (key, i), key[:-1], member)
        for x in self.of_type("aws_iam_user_group_membership"):
            try:
                user = self.member(x, "user", "aws_iam_user")
                groups = self.listed(x, "groups")
            except Unknown:
                continue
            if user is not None:
                self.memberships.setdefault(id(user), []).extend((x, "groups", g) for g in groups)
            elif not self.is_unknown(x, "user"):
                self.absent(x, ("user",), "user", x.values.get("user"))
        for x in self.of_type("aws_iam_group_membership"):
            try:
                group = self.known(x, "group")
                users = self.listed(x, "users")
            except Unknown:
                continue
            for i, name in enumerate(users):
                user = named.get(("aws_iam_user", self.account_of(x), name))
                if user is not None:
                    self.memberships.setdefault(id(user), []).append((x, "group", str(group)))
                else:
                    self.absent(x, ("users", i), "user", name)

    def absent(self, x: Res, where: PolicyPath, word: str, name: object) -> None:
        """A policy, attachment or group membership for a user or role that the plan does
        not hold: read on without it, the principal (if a spec defines it) would lack what it
        gives. (A group the plan does not hold is reported where a member of it is: no
        principal of the plan gets its policies otherwise.)"""
        if not isinstance(name, str):
            self.err(self.at(x, where), f"{x.address}: expected a {word} name here")
            return
        self.err(
            self.at(x, where),
            f"{x.address}: {word} {name!r} is not in this plan, so the {word} and its other "
            f"policies are unknown; add the {word} to the configuration, or import the account "
            "with authorization-details",
        )

    def member(self, x: Res, key: str, target_type: str) -> Res | None:
        """The user (or group) of this plan that attribute ``key`` of ``x`` names."""
        if self.is_unknown(x, key):
            target = self.referenced(x, key)
            if target is None or target.type != target_type:
                self.known(x, key)  # reports it
            return target
        return self.named.get((target_type, self.account_of(x), str(x.values.get(key))))

    def group_policies(self, user: Res) -> list[ImportedPolicy]:
        """The policies a user gets through its groups; a group this plan does not create is
        an error (its policies are unknown)."""
        out: list[ImportedPolicy] = []
        failed = False
        for x, attr, name in self.memberships.get(id(user), []):
            group = self.named.get(("aws_iam_group", self.account_of(x), name))
            if group is None:
                self.err(
                    self.at(x, (attr,)),
                    f"{x.address}: group {name!r} is not in this plan, so its policies are "
                    "unknown; add it to the configuration, or import the account with "
                    "authorization-details",
                )
                failed = True
                continue
            for how, y in self.links.get(id(group), ()):
                try:
                    if how == "inline":
                        out.append(self.document(y, ("policy",), f"group {name}/{self.name_of(y)}"))
                    else:
                        out.append(self.policy_by_arn(y, "policy_arn", y.values.get("policy_arn")))
                except Unknown:
                    failed = True
        if failed:
            raise Unknown
        return out

    def principals(self) -> list[ImportedPrincipal]:
        out: list[ImportedPrincipal] = []
        kinds = {"aws_iam_role": PrincipalKind.ROLE, "aws_iam_user": PrincipalKind.USER}
        self.link()
        for r in self.of_type("aws_iam_role", "aws_iam_user"):
            try:
                out.append(self.principal(r, kinds[r.type]))
            except Unknown:
                continue
        return out

    def principal(self, r: Res, kind: PrincipalKind) -> ImportedPrincipal:
        name = self.name_of(r)
        word = kind.value
        policies: list[ImportedPolicy] = []
        failed = False
        arn = ""
        try:
            arn = self.arn_of(r)
        except Unknown:
            failed = True
        if kind is PrincipalKind.ROLE:
            if self.is_unknown(r, "inline_policy") and self.has_expression(r, "inline_policy"):
                self.known(r, "inline_policy")
            try:
                inline = (
                    self.listed(r, "inline_policy", Mapping)
                    if not self.is_unknown(r, "inline_policy")
                    else []
                )
            except Unknown:
                inline, failed = [], True
            for i, entry in enumerate(inline):
                if not entry.get("name") and not entry.get("policy"):
                    continue  # the provider's empty placeholder block
                try:
                    policies.append(
                        self.document(r, ("inline_policy", i, "policy"), f"{name}/{entry['name']}")
                    )
                except Unknown:
                    failed = True
            if self.is_unknown(r, "managed_policy_arns") and self.has_expression(
                r, "managed_policy_arns"
            ):
                self.known(r, "managed_policy_arns")
            try:
                arns = (
                    self.listed(r, "managed_policy_arns")
                    if not self.is_unknown(r, "managed_policy_arns")
                    else []
                )
            except Unknown:
                arns, failed = [], True
            for i, arn_text in enumerate(arns):
                try:
                    policies.append(self.attached(r, ("managed_policy_arns", i), arn_text))
                except Unknown:
                    failed = True
        for how, x in self.links.get(id(r), ()):
            try:
                if how == "inline":
                    policies.append(self.document(x, ("policy",), f"{name}/{self.name_of(x)}"))
                else:
                    policies.append(self.policy_by_arn(x, "policy_arn", x.values.get("policy_arn")))
            except Unknown:
                failed = True
        try:
            self.exclusive(r, word, name, policies)
            if kind is PrincipalKind.USER:
                policies.extend(self.group_policies(r))
        except Unknown:
            failed = True
        boundary = None
        try:
            if self.is_unknown(r, "permissions_boundary") or r.values.get("permissions_boundary"):
                boundary = self.policy_by_arn(
                    r, "permissions_boundary", r.values.get("permissions_boundary")
                )
        except Unknown:
            failed = True
        tags = self.tags(r)
        if failed:
            raise Unknown
        return ImportedPrincipal(
            name, kind, arn, self.at(r, ()), unique_by_name(policies), boundary, tags
        )

    def shipped(self, r: Res, loc: SourceLoc, arn: str) -> ImportedPolicy:
        """The AWS managed policy ``arn`` from the shipped set, or an error at ``loc``."""
        try:
            shipped = managed.lookup(arn)
        except managed.NotShipped as exc:
            self.err(loc, f"{r.address}: {exc}")
            raise Unknown from None
        assert shipped is not None
        return ImportedPolicy(
            shipped.name, loc, shipped.document, lambda _p: loc, aws_managed=shipped.name
        )

    def attached(self, r: Res, where: PolicyPath, arn: object) -> ImportedPolicy:
        loc = self.doc.loc((*r.path, *where))
        if isinstance(arn, str) and managed.is_aws_managed_arn(arn):
            return self.shipped(r, loc, arn)
        target = self.policy_with_arn(arn)
        if target is not None:
            return self.customer_policy(target)
        self.err(
            loc,
            f"{r.address}: managed policy {arn} is not a policy this plan creates or manages, "
            "so its document is unknown; add the policy to the configuration, or import the "
            "account with authorization-details",
        )
        raise Unknown

    def has_expression(self, r: Res, attr: str) -> bool:
        return attr in ((r.config or {}).get("expressions") or {})

    def exclusive(self, r: Res, word: str, name: str, policies: list[ImportedPolicy]) -> None:
        """``aws_iam_{role,user}_polic{ies,y_attachments}_exclusive``: the principal holds
        exactly the listed policies; one the plan does not define is an error."""
        for x in self.of_type(f"aws_iam_{word}_policies_exclusive"):
            if self.known(x, f"{word}_name") != name:
                continue
            listed = set(self.listed(x, "policy_names"))
            have = {
                p.name.split("/", 1)[1] for p in policies if "/" in p.name and not p.aws_managed
            }
            for missing in sorted(listed - have):
                self.err(
                    self.at(x, ("policy_names",)),
                    f"{x.address}: inline policy {missing!r} of {word} {name} is not in this "
                    "plan, so its document is unknown",
                )
            for p in list(policies):
                if "/" in p.name and not p.aws_managed and p.name.split("/", 1)[1] not in listed:
                    policies.remove(p)
        for x in self.of_type(f"aws_iam_{word}_policy_attachments_exclusive"):
            if self.known(x, f"{word}_name") != name:
                continue
            for i, arn in enumerate(self.listed(x, "policy_arns")):
                policies.append(self.attached(x, ("policy_arns", i), arn))

    def tags(self, r: Res) -> dict[str, str]:
        attr = "tags_all" if "tags_all" in r.values or self.is_unknown(r, "tags_all") else "tags"
        value = self.known(r, attr) or {}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.err(self.at(r, (attr,)), f"{r.address}: {attr} must map tag keys to text")
            raise Unknown
        seen: dict[str, str] = {}
        for key in value:
            other = seen.setdefault(str(key).lower(), str(key))
            if other != key:
                # IAM refuses tag keys that differ only in case, and aws:PrincipalTag/team
                # ignores case: which value a policy saw would be a guess
                self.err(
                    self.at(r, (attr, key)),
                    f"{r.address}: tag key {key!r} is given twice (also {other!r} on line "
                    f"{self.at(r, (attr, other)).line});"
                    f" {TAGS_DIFFER_IN_CASE}",
                )
                raise Unknown
        return {str(k): v for k, v in value.items()}

    def repositories(self) -> list[ImportedRepository]:
        policies: dict[int, ImportedPolicy] = {}
        by_name: dict[str, Res] = {}
        repos = list(self.of_type("aws_ecr_repository"))
        for repo in repos:
            try:
                by_name[self.name_of(repo)] = repo
            except Unknown:
                continue
        for x in self.of_type("aws_ecr_repository_policy"):
            try:
                if self.is_unknown(x, "repository"):
                    target = self.referenced(x, "repository")
                    if target is None or target.type != "aws_ecr_repository":
                        self.known(x, "repository")
                    assert target is not None
                else:
                    name = x.values.get("repository")
                    if not isinstance(name, str) or name not in by_name:
                        self.err(
                            self.at(x, ("repository",)),
                            f"{x.address}: repository {name!r} is not in this plan, so its ARN "
                            "and tags are unknown; add it to the configuration",
                        )
                        continue
                    target = by_name[str(name)]
                if id(target) in policies:
                    self.err(
                        self.at(x, ()),
                        f"{x.address}: a second repository policy for {target.address}; a "
                        "repository has one policy",
                    )
                    continue
                policies[id(target)] = self.document(
                    x, ("policy",), f"{self.name_of(target)} repository policy"
                )
            except Unknown:
                continue
        out: list[ImportedRepository] = []
        for name, repo in by_name.items():
            try:
                out.append(
                    ImportedRepository(
                        name,
                        self.arn_of(repo),
                        self.at(repo, ()),
                        policies.get(id(repo)),
                        self.tags(repo),
                    )
                )
            except Unknown:
                continue
        return out

    def organization_policies(self) -> list[ImportedOrgPolicy]:
        attached: set[int] = set()
        for x in self.of_type("aws_organizations_policy_attachment"):
            if not self.attached_at_root(x):
                continue
            if self.is_unknown(x, "policy_id"):
                target = self.referenced(x, "policy_id")
                if target is not None:
                    attached.add(id(target))
                    continue
            for p in self.of_type("aws_organizations_policy"):
                if not self.is_unknown(p, "id") and p.values.get("id") == x.values.get("policy_id"):
                    attached.add(id(p))
        out: list[ImportedOrgPolicy] = []
        for p in self.of_type("aws_organizations_policy"):
            kind = _ORG_KINDS.get(str(p.values.get("type") or "SERVICE_CONTROL_POLICY"))
            if kind is None:
                continue
            if id(p) not in attached:
                self.warnings.append(
                    Problem(
                        self.at(p, ()),
                        f"{p.address}: not imported: no aws_organizations_policy_attachment of "
                        "this plan attaches it",
                    )
                )
                continue
            try:
                out.append(ImportedOrgPolicy(kind, self.document(p, ("content",), self.name_of(p))))
            except Unknown:
                continue
        return out

    def attached_at_root(self, x: Res) -> bool:
        """Whether an attachment targets the organization's root. The spec's organization
        applies its SCPs and RCPs to every member account, which is what an attachment at the
        root does; one at an organizational unit or an account reaches only some of them, and
        applying it everywhere could turn an allowed request into a denied one (or the
        reverse, for a check that expects a deny), so it is refused, not imported."""
        if self.is_unknown(x, "target_id"):
            target = self.referenced(x, "target_id")
            if target is not None and target.type == "aws_organizations_organization":
                return True  # roots[0].id of an organization created in the same plan
            self.err(
                self.at(x, ("target_id",)),
                f"{x.address}: target_id is known only after apply; the tool imports SCPs and "
                "RCPs attached at the organization's root (r-...) only",
            )
            return False
        tid = x.values.get("target_id")
        if isinstance(tid, str) and tid.startswith("r-"):
            return True
        self.err(
            self.at(x, ("target_id",)),
            f"{x.address}: attaches its policy to {tid!r}, an organizational unit or an "
            "account; the tool applies SCPs and RCPs to every member account of the "
            "organization, so it imports only policies attached at the root (r-...); write "
            "this organization's policies in the spec's organization instead",
        )
        return False

    def refuse_groups(self) -> None:
        for r in self.res:
            if r.mode == "managed" and r.type in _GROUP_TYPES:
                self.err(
                    self.at(r, ()),
                    f"{r.address}: the exclusive resources of IAM groups are not read from "
                    "Terraform plans, and without them a member's group policies could be "
                    "wrong; import the account with authorization-details instead",
                )


def parse_plan(display: str, text: str, settings: Settings | None = None) -> ImportResult:
    """Read ``terraform show -json`` output (``text`` of the file shown as ``display``)."""
    kind = ImportKind.TERRAFORM_PLAN
    try:
        doc = parse_json(display, text)
    except JsonProblem as exc:
        return ImportResult(display, kind, problems=(Problem(exc.loc, exc.message),))
    plan = _Reader(doc, settings or Settings())
    plan.read()
    if plan.problems:
        return ImportResult(display, kind, problems=tuple(plan.problems))
    plan.refuse_groups()
    principals = plan.principals()
    repositories = plan.repositories()
    org = plan.organization_policies()
    return ImportResult(
        display,
        kind,
        principals=tuple(principals),
        repositories=tuple(repositories),
        organization_policies=tuple(org),
        problems=tuple(dict.fromkeys(plan.problems)),
        warnings=tuple(plan.warnings),
    )
