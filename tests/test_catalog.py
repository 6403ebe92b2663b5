"""The ECR action catalog: counts, operations, resolution and suggestions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner import catalog


def test_sixty_actions_twenty_five_account_level() -> None:
    assert len(catalog.ACTIONS) == 60
    account_level = [a for a in catalog.ACTIONS if catalog.is_account_level(a)]
    assert len(account_level) == 25
    assert "ecr:GetAuthorizationToken" in account_level
    assert not catalog.is_account_level("ecr:BatchGetImage")


def test_operations_are_what_docker_needs() -> None:
    assert catalog.OPERATIONS["pull"] == (
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    )
    assert catalog.OPERATIONS["push"] == (
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    )
    for actions in catalog.OPERATIONS.values():
        assert all(a in catalog.ACTIONS for a in actions)


def test_action_info_carries_access_and_condition_keys() -> None:
    info = catalog.ACTIONS["ecr:CreateRepository"]
    assert info.resource == "repository"
    assert info.access == "Write"
    assert info.condition_keys == ("aws:RequestTag/${TagKey}", "aws:TagKeys")
    assert catalog.ACTIONS["ecr:PutAccountSetting"].account_level


@given(st.sampled_from(sorted(catalog.ACTIONS)), st.randoms(use_true_random=False))
def test_any_case_resolves_to_the_canonical_name(action: str, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    mangled = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in action)
    assert catalog.resolve_action(mangled) == [action]


def test_star_pattern_resolves_to_the_whole_catalog_in_order() -> None:
    assert catalog.resolve_action("ecr:*") == list(catalog.ACTIONS)


def test_unknown_action_carries_the_closest_names() -> None:
    with pytest.raises(catalog.UnknownAction) as info:
        catalog.resolve_action("ecr:DescribeImage")
    assert info.value.closest == ("ecr:DescribeImages",)
    assert info.value.text == "ecr:DescribeImage"
    assert str(info.value) == (
        "unknown Amazon ECR action 'ecr:DescribeImage'; did you mean ecr:DescribeImages?"
    )


def test_several_equally_close_names_are_all_offered() -> None:
    assert catalog.closest_actions("ecr:GetRepoPolicy") == (
        "ecr:GetRepositoryPolicy",
        "ecr:SetRepositoryPolicy",
    )


def test_is_account_level_refuses_names_outside_the_catalog() -> None:
    with pytest.raises(KeyError):
        catalog.is_account_level("ecr:batchgetimage")


def test_a_hostile_action_pattern_answers_at_once() -> None:
    """``?`` and ``*`` alternating: a backtracking regex takes seconds at eight pairs, and
    doubles with each one more."""
    with pytest.raises(catalog.UnknownAction, match="matches no Amazon ECR action"):
        catalog.resolve_action("ecr:" + "*?" * 2_000 + "*Z")
    # at least five characters before "image", any case
    assert catalog.resolve_action("ecr:" + "*?" * 5 + "*image") == [
        "ecr:BatchDeleteImage",
        "ecr:BatchGetImage",
        "ecr:BatchImportUpstreamImage",
        "ecr:ReplicateImage",
    ]
