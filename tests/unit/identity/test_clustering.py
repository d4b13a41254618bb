"""Constrained clustering: order independence, limit-1 identifiers, evidence against, attach."""

import itertools
import random

from c360.identity.clustering import (
    TIER_ATTACH,
    TIER_DETERMINISTIC,
    TIER_PROBABILISTIC,
    Edge,
    cluster,
)


def keys(n: int) -> dict[int, tuple[str, str, str]]:
    return {i: ("src", "record", f"r{i:03d}") for i in range(n)}


def groups(result_root: dict[int, int]) -> set[frozenset[int]]:
    out: dict[int, set[int]] = {}
    for node, root in result_root.items():
        out.setdefault(root, set()).add(node)
    return {frozenset(g) for g in out.values()}


def test_two_user_ids_never_share_a_cluster_however_the_chain_runs() -> None:
    # 0 (user a) ~ 1 ~ 2 ~ 3 (user b): a chain of strong edges through shared contact points
    edges = [
        Edge(0, 1, TIER_DETERMINISTIC, 90, "email:x"),
        Edge(1, 2, TIER_DETERMINISTIC, 90, "phone:y"),
        Edge(2, 3, TIER_DETERMINISTIC, 90, "email:z"),
    ]
    limited = {0: [("user_id", "a")], 3: [("user_id", "b")]}
    result = cluster(range(4), keys(4), {0, 1, 2, 3}, limited, {"user_id": 1}, edges, {}, 2.0)
    parts = groups(result.root)
    assert not any({0, 3} <= g for g in parts)
    assert any("user_id" in why for _e, why in result.refused)


def test_the_partition_does_not_depend_on_the_order_edges_arrive_in() -> None:
    rng = random.Random(3)
    edges = [
        Edge(a, b, rng.choice([TIER_DETERMINISTIC, TIER_PROBABILISTIC]), rng.uniform(8, 30), "k")
        for a, b in itertools.combinations(range(12), 2)
        if rng.random() < 0.25
    ]
    limited = {0: [("user_id", "a")], 5: [("user_id", "b")], 9: [("national_id", "x")]}
    verdicts = {(1, 7): -1.0, (2, 8): -1.0}
    expected = None
    for _ in range(20):
        rng.shuffle(edges)
        result = cluster(
            range(12),
            keys(12),
            set(range(12)),
            limited,
            {"user_id": 1, "national_id": 1},
            edges,
            verdicts,
            2.0,
        )
        parts = groups(result.root)
        expected = expected or parts
        assert parts == expected


def test_a_pair_that_disagrees_on_the_person_keeps_two_clusters_apart() -> None:
    # {0,1} and {2} would join through the 1~2 score, but 0 and 2 have different birth dates
    # and nothing across the clusters agrees except the edge itself
    edges = [
        Edge(0, 1, TIER_DETERMINISTIC, 90, "customer_id:1"),
        Edge(1, 2, TIER_PROBABILISTIC, 12, "score"),
    ]
    verdicts = {(0, 2): -1.0, (1, 2): 1.0, (0, 1): -1.0}
    result = cluster(range(3), keys(3), {0, 1, 2}, {}, {}, edges, verdicts, 2.0)
    assert result.root[2] != result.root[0]
    # with more agreement than disagreement across them, they join
    verdicts[(0, 2)] = 1.0
    result = cluster(range(3), keys(3), {0, 1, 2}, {}, {}, edges, verdicts, 2.0)
    assert result.root[2] == result.root[0]


def test_a_record_without_identity_joins_the_one_person_its_phone_leads_to() -> None:
    # 0 and 1 are two people of one family; 2 is a receipt with the family phone; 3 a receipt
    # with only person 4's phone
    edges = [
        Edge(2, 0, TIER_ATTACH, 0.5, "contact"),
        Edge(2, 1, TIER_ATTACH, 0.5, "contact"),
        Edge(3, 4, TIER_ATTACH, 0.5, "contact"),
    ]
    result = cluster(range(5), keys(5), {0, 1, 4}, {}, {}, edges, {}, 2.0)
    assert result.root[2] not in (result.root[0], result.root[1])
    assert any("ambiguous" in why for _e, why in result.refused)
    assert result.root[3] == result.root[4]
    # a name that agrees decides between family members
    named = [Edge(2, 0, TIER_ATTACH, 0.5, "name"), Edge(2, 1, TIER_ATTACH, 0.5, "contact")]
    result = cluster(range(3), keys(3), {0, 1}, {}, {}, named, {}, 2.0)
    assert result.root[2] == result.root[0]


def test_clusters_are_named_after_their_first_node() -> None:
    edges = [Edge(3, 1, TIER_DETERMINISTIC, 90, "k"), Edge(1, 2, TIER_DETERMINISTIC, 90, "k")]
    result = cluster(range(4), keys(4), set(range(4)), {}, {}, edges, {}, 2.0)
    assert result.root[3] == result.root[2] == 1
    assert result.root[0] == 0
