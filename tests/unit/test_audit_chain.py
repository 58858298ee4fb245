"""The segmented chain's rules in the domain: the pinned v2 encoding, the verifier, refused keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from domain.audit import (
    EVENT_FIELDS,
    INVALID_KEY_PREFIX,
    AuditEvent,
    ChainHead,
    ChainVerifier,
    SegmentAnchor,
    event_values,
    segment_canonical,
    segment_genesis,
    segment_hash,
    trail_key,
)

pytestmark = pytest.mark.unit

EVENT = AuditEvent(
    actor_id="alice",
    subject_user_id="alice",
    secret_key="k",
    action="read",
    outcome="success",
    version=3,
    reason="é\n~",
    occurred_at=datetime(2026, 12, 4, 19, 0, 0, 5, tzinfo=UTC),
)


def test_the_v2_encoding_is_pinned():
    # Any change here orphans every stored chain: it needs a new CHAIN_VERSION, not an edit.
    genesis = hashlib.sha256(b"mirage-audit-v2\ngenesis\n7").hexdigest()
    assert segment_genesis(7) == genesis
    expected = (
        f"mirage-audit-v2\n{genesis}\n7\n1\n27:2026-12-04T19:00:00.000005Z\n5:alice\n1:0\n5:alice\n1:k\n~\n"
        "4:read\n7:success\n4:é\n~\n1:3\n~\n~\n~\n~"
    )
    assert segment_canonical(genesis, 7, 1, event_values(EVENT)) == expected
    assert segment_hash(genesis, 7, 1, event_values(EVENT)) == hashlib.sha256(expected.encode()).hexdigest()


def test_a_value_can_not_imitate_a_separator_and_an_event_can_not_move():
    # Unprefixed, reason "x\n~" + version None and reason "x" + a "~" line would read alike.
    tricky = AuditEvent(**{**_fields(EVENT), "reason": "x\n~", "version": None})
    plain = AuditEvent(**{**_fields(EVENT), "reason": "x", "version": None})
    assert "\n3:x\n~\n~\n" in segment_canonical("0" * 64, 1, 1, event_values(tricky))
    assert segment_hash("0" * 64, 1, 1, event_values(tricky)) != segment_hash("0" * 64, 1, 1, event_values(plain))
    # Moving an event to another segment or place changes its hash.
    values = event_values(EVENT)
    assert len({segment_hash("a" * 64, s, q, values) for s, q in [(1, 1), (2, 1), (1, 2)]}) == 3


def _fields(event: AuditEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in EVENT_FIELDS}


def _chain(segment_id: int, count: int) -> list[tuple[int, int, int, str, str, tuple[object, ...]]]:
    rows, prev = [], segment_genesis(segment_id)
    for seq in range(1, count + 1):
        digest = segment_hash(prev, segment_id, seq, event_values(EVENT))
        rows.append((segment_id * 100 + seq, segment_id, seq, prev, digest, event_values(EVENT)))
        prev = digest
    return rows


def _verify(rows, anchors, witnessed=None):
    verifier = ChainVerifier(anchors, witnessed=witnessed)
    for row in rows:
        if not verifier.feed(*row):
            break
    return verifier.finish()


ANCHORS = {1: SegmentAnchor(1, segment_genesis(1)), 2: SegmentAnchor(1, segment_genesis(2))}


def test_every_segment_is_checked_and_the_witness_confirmed():
    rows = _chain(1, 3) + _chain(2, 2)
    result = _verify(rows, ANCHORS, {1: ChainHead(3, rows[2][4]), 2: ChainHead(2, rows[4][4])})
    assert (result.ok, result.checked, result.segments, result.witnessed) == (True, 5, 2, 2)


def test_a_gap_in_a_segment_names_the_row_after_it():
    rows = _chain(1, 4)
    del rows[1]
    result = _verify(rows, ANCHORS)
    assert (result.ok, result.first_broken_id) == (False, 103) and "expected seq 2" in result.reason


def test_a_segment_cut_short_is_caught_only_by_its_witness():
    rows = _chain(1, 4)
    head = {1: ChainHead(4, rows[-1][4])}
    assert _verify(rows[:2], ANCHORS).ok
    result = _verify(rows[:2], ANCHORS, head)
    assert not result.ok and "lacks its witnessed head (seq 4)" in result.reason
    # A whole witnessed segment gone is caught the same way.
    assert not _verify(_chain(2, 1), ANCHORS, head).ok


def test_the_canonical_text_a_store_spells_out_must_match_the_row():
    (row,) = _chain(1, 1)
    event_id, segment_id, seq, prev, digest, values = row
    good = ChainVerifier(ANCHORS)
    assert good.feed_canonical(event_id, segment_id, seq, prev, digest, segment_canonical(prev, 1, 1, values))
    # Text that hashes right but belongs to another place is refused.
    other = segment_canonical(prev, 1, 2, values)
    moved = ChainVerifier(ANCHORS)
    assert not moved.feed_canonical(event_id, 1, 1, prev, hashlib.sha256(other.encode()).hexdigest(), other)


@pytest.mark.parametrize(
    ("key", "refused", "recorded"),
    [
        ("db-password", False, "db-password"),
        ("docker/localhost:5000", False, "docker/localhost:5000"),
        ("env_vars/prod/API_KEY", False, "env_vars/prod/API_KEY"),
        ("db-password", True, "invalid:'db-password'"),
        ("=cmd|' /C calc'!A0", False, "invalid:\"=cmd|' /C calc'!A0\""),
        ("@SUM(A1)", False, "invalid:'@SUM(A1)'"),
        ("a\u202eb", False, "invalid:'a\\u202eb'"),  # a bidi override, escaped
        ("invalid:x", False, "invalid:'invalid:x'"),  # a valid-looking key can't pose as a marker
        ("a..b", False, "invalid:'a..b'"),
        (None, True, None),
    ],
)
def test_refused_keys_are_recorded_marked(key, refused, recorded):
    assert trail_key(key, refused=refused) == recorded


def test_a_marked_key_is_bounded_and_never_a_formula():
    marked = trail_key("=" + "x" * 5000)
    assert marked is not None and marked.startswith(INVALID_KEY_PREFIX) and len(marked) <= 208
