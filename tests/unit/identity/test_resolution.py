"""Deterministic edges of link groups: a node linking to an identifier joins the node holding
it, never another node linking to it (found by the C1 model test)."""

from c360.identity import DEFAULT_CONFIG
from c360.identity.resolution import ROLE_HOLDS, ROLE_LINK, Node, resolve_nodes

USER_ID = "user_id:{}"


def tracked(node_id: int, kind: str, key: str, *limited: tuple[str, str]) -> Node:
    return Node(node_id, ("web", kind, key), node_id, {}, [], list(limited))


def partition(
    nodes: dict[int, Node], groups: dict[str, list[tuple[int, int]]]
) -> set[frozenset[str]]:
    clustering = resolve_nodes(nodes, groups, [], DEFAULT_CONFIG)
    return {
        frozenset(nodes[n].stable[2] for n in members) for members in clustering.clusters().values()
    }


def test_a_device_linked_to_a_user_joins_them_not_a_user_whose_alias_named_them() -> None:
    # u-lan's alias named u-minh; a device then signed in as u-minh. The device's name sorts
    # before both users, so a star around the first node would make u-lan ~ device first.
    nodes = {
        1: tracked(1, "anonymous_id", "anon-a-phone"),
        2: tracked(2, "user_id", "u-lan", ("user_id", "u-lan")),
        3: tracked(3, "user_id", "u-minh", ("user_id", "u-minh")),
    }
    groups = {USER_ID.format("u-minh"): [(3, ROLE_HOLDS), (2, ROLE_LINK), (1, ROLE_LINK)]}
    assert partition(nodes, groups) == {
        frozenset({"anon-a-phone", "u-minh"}),
        frozenset({"u-lan"}),
    }


def test_a_refused_link_does_not_cut_the_holder_off_from_the_other_linking_nodes() -> None:
    # a split (decision 7) keeps the tablet apart from the user and their phone
    nodes = {
        1: tracked(1, "anonymous_id", "anon-a-tablet", ("split:7", "1")),
        2: tracked(2, "anonymous_id", "anon-b-phone", ("split:7", "0")),
        3: tracked(3, "user_id", "u-somchai", ("user_id", "u-somchai"), ("split:7", "0")),
    }
    groups = {USER_ID.format("u-somchai"): [(3, ROLE_HOLDS), (1, ROLE_LINK), (2, ROLE_LINK)]}
    assert partition(nodes, groups) == {
        frozenset({"anon-b-phone", "u-somchai"}),
        frozenset({"anon-a-tablet"}),
    }


def test_nodes_linking_to_an_identifier_nobody_holds_still_join_each_other() -> None:
    # two devices that signed in as a user whose own node is not there (yet): one person
    nodes = {
        1: tracked(1, "anonymous_id", "anon-phone"),
        2: tracked(2, "anonymous_id", "anon-laptop"),
    }
    groups = {USER_ID.format("u-absent"): [(1, ROLE_LINK), (2, ROLE_LINK)]}
    assert partition(nodes, groups) == {frozenset({"anon-phone", "anon-laptop"})}
