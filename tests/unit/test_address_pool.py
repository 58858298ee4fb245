"""The address pool's bookkeeping and what counts as "ask another node"."""

from __future__ import annotations

import pytest

from adapters.vault.address_pool import VaultAddressPool, is_failover_answer, parse_addresses

pytestmark = pytest.mark.unit

A, B, C = "http://a:8200", "http://b:8200", "http://c:8200"


def test_addresses_are_parsed_in_order_without_repeats_or_trailing_slashes():
    assert parse_addresses(f" {A}/, {B} ,{A}") == (A, B)


def test_a_failed_active_node_hands_over_to_the_next_and_candidates_start_with_the_active():
    pool = VaultAddressPool([A, B, C])
    assert pool.candidates() == [A, B, C]
    pool.mark_failed(A)
    assert pool.active == B and pool.candidates() == [B, A, C]
    pool.mark_failed(A)  # a stale report about a node that is no longer active changes nothing
    assert pool.active == B
    pool.mark_active(C)
    assert pool.active == C and pool.failovers == 2


def test_locate_active_picks_the_node_whose_health_says_active():
    pool = VaultAddressPool([A, B, C])
    codes = {A: None, B: 429, C: 200}
    assert pool.locate_active(codes.get) == C and pool.active == C
    assert VaultAddressPool([A, B]).locate_active(lambda addr: 429) is None


def test_split_rebases_only_urls_on_pool_addresses():
    pool = VaultAddressPool([A, B])
    assert pool.split(f"{B}/v1/sys/health") == (B, "/v1/sys/health")
    assert pool.split("http://elsewhere/v1/x") is None
    assert pool.split("http://a:82000/v1") is None


def test_one_address_is_tried_once():
    assert list(VaultAddressPool([A]).attempts()) == [A]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, '{"errors":["Vault is sealed"]}', True),
        (503, "", True),
        (500, '{"errors":["local node not active but active cluster node not found"]}', True),
        (500, '{"errors":["internal error"]}', False),
        (400, '{"errors":["check-and-set parameter did not match"]}', False),
        (403, '{"errors":["permission denied"]}', False),
        (200, "standby", False),
    ],
)
def test_failover_answers(status, body, expected):
    assert is_failover_answer(status, body) is expected
