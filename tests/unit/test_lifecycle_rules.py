"""TTL parsing and bounds, warning thresholds, status warnings, and the metadata round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInput
from domain.lifecycle import (
    expiry_from,
    expiry_status,
    parse_duration,
    threshold_crossed,
    validate_rotate_every,
    warning_window,
)
from domain.secrets import SecretMetadata

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(90, 90), ("90s", 90), ("15m", 900), ("12h", 43200), ("30d", 2592000), (" 2S ", 2)],
)
def test_durations(raw, seconds):
    assert parse_duration(raw) == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", ["", "2w", "1.5h", "h", "-5s", "10 d", True, "1e3"])
def test_bad_durations_name_the_field(raw):
    with pytest.raises(InvalidInput) as refused:
        parse_duration(raw)
    assert refused.value.field == "ttl"


def test_expiry_bounds():
    assert expiry_from(ttl="2s", expires_at=None, now=NOW) == NOW + timedelta(seconds=2)
    assert expiry_from(ttl=None, expires_at=None, now=NOW) is None
    at = datetime(2027, 1, 1, tzinfo=UTC)
    assert expiry_from(ttl=None, expires_at=at, now=NOW) == at
    for ttl in (0, "0s", "3651d", -1):
        with pytest.raises(InvalidInput):
            expiry_from(ttl=ttl, expires_at=None, now=NOW)
    for bad in (NOW, NOW - timedelta(seconds=1), NOW + timedelta(days=3651), datetime(2027, 1, 1)):
        with pytest.raises(InvalidInput) as refused:
            expiry_from(ttl=None, expires_at=bad, now=NOW)
        assert refused.value.field == "expires_at"
    with pytest.raises(InvalidInput, match="not both"):
        expiry_from(ttl=5, expires_at=at, now=NOW)


def test_rotate_every_and_window():
    assert validate_rotate_every(90) == 90
    for bad in (0, -1, 3651, True):
        with pytest.raises(InvalidInput):
            validate_rotate_every(bad)
    assert warning_window(None) == timedelta(days=14)
    assert warning_window("7d") == timedelta(days=7)
    assert warning_window("3600") == timedelta(hours=1)
    with pytest.raises(InvalidInput) as refused:
        warning_window("400d")
    assert refused.value.field == "within"


@pytest.mark.parametrize(
    ("left", "threshold"),
    [
        (timedelta(days=20), None),
        (timedelta(days=14), 14),
        (timedelta(days=8), 14),
        (timedelta(days=7), 7),
        (timedelta(days=2), 7),
        (timedelta(hours=23), 1),
    ],
)
def test_thresholds(left, threshold):
    assert threshold_crossed(NOW + left, NOW) == threshold


def test_status_warnings():
    assert expiry_status(None, NOW) == (None, None)
    assert expiry_status(NOW + timedelta(days=30), NOW) == (30, None)
    days, warning = expiry_status(NOW + timedelta(days=3, hours=2), NOW)
    assert days == 3 and "expires in 3 days" in warning
    days, warning = expiry_status(NOW - timedelta(hours=1), NOW)
    assert days == -1 and "expired" in warning


def test_expiry_and_rotation_round_trip_through_vault_metadata():
    metadata = SecretMetadata(
        created_by="alice",
        created_at=NOW,
        secret_type="github_pat",
        expires_at=NOW + timedelta(days=1),
        rotate_every_days=30,
        extra={"expires_at": "2030-01-01T00:00:00+00:00"},  # GitHub's own token expiry
    )
    encoded = metadata.to_vault()
    assert encoded["ttl_expires_at"] == (NOW + timedelta(days=1)).isoformat()
    decoded = SecretMetadata.from_vault(encoded, fallback=metadata)
    assert (decoded.expires_at, decoded.rotate_every_days) == (NOW + timedelta(days=1), 30)
    assert decoded.provider_expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    cleared = SecretMetadata.from_vault({k: v for k, v in encoded.items() if k != "ttl_expires_at"}, fallback=metadata)
    assert cleared.expires_at is None  # no fallback: a cleared expiry stays cleared
