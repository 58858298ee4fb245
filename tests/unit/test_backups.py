"""Backups without a Vault: retention, manifests, atomic files, checksums, the create flow."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.backups.files import FileBackupStore, TextfileBackupMetrics
from domain.backups import BackupCorrupt, BackupRecord, Inventory, Manifest, RetentionPolicy
from services.backups import BackupService

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
INVENTORY = Inventory(secrets=3, versions=7, per_user={"alice": 2, "bob": 1})


def _manifest(at: datetime) -> Manifest:
    return Manifest(
        created_at=at,
        vault_version="2.7.2",
        mount="mirage",
        key_shares=5,
        key_threshold=3,
        inventory=INVENTORY,
        files={},
        database="postgresql",
    )


def _records(times: list[datetime]) -> list[BackupRecord]:
    return [BackupRecord(path=Path(f"/b/{n}"), created_at=t, manifest=_manifest(t)) for n, t in enumerate(times)]


def test_daily_retention_keeps_the_newest_of_each_day_for_30_days():
    times = [NOW - timedelta(days=d, hours=h) for d in range(40) for h in (0, 6)]
    removed = RetentionPolicy().to_remove(_records(times), NOW)
    kept = {r.created_at for r in _records(times)} - {r.created_at for r in removed}
    days = {t.date() for t in kept}
    assert len(kept) == len(days) == 31  # today and 30 days back, one each
    assert min(kept) >= NOW - timedelta(days=30)


def test_hourly_retention_adds_one_an_hour_for_7_days():
    times = [NOW - timedelta(hours=h, minutes=m) for h in range(24 * 10) for m in (0, 30)]
    removed = RetentionPolicy(hourly=True).to_remove(_records(times), NOW)
    kept = sorted({r.created_at for r in _records(times)} - {r.created_at for r in removed})
    recent = [t for t in kept if t >= NOW - timedelta(days=7)]
    assert len(recent) == 24 * 7 + 1
    assert all(kept.count(t) == 1 for t in kept)


def test_the_newest_backup_is_kept_however_old_and_unknown_directories_are_never_removed():
    old = _records([NOW - timedelta(days=90), NOW - timedelta(days=100)])
    stray = BackupRecord(path=Path("/b/stray"), created_at=NOW - timedelta(days=400), manifest=None)
    removed = RetentionPolicy().to_remove([*old, stray], NOW)
    assert [r.path for r in removed] == [old[1].path]


def test_manifest_round_trips_and_garbage_is_corrupt():
    manifest = _manifest(NOW)
    assert Manifest.from_json(manifest.to_json()) == manifest
    with pytest.raises(BackupCorrupt):
        Manifest.from_json('{"created_at": "yesterday"}')


def test_inventory_differences_name_each_mismatch():
    found = Inventory(secrets=2, versions=7, per_user={"alice": 1, "bob": 1})
    assert INVENTORY.differences(found) == ["secrets: expected 3, found 2", "user alice: expected 2 secrets, found 1"]
    assert INVENTORY.differences(INVENTORY) == []


class _Source:
    def version(self) -> str:
        return "2.7.2"

    def seal_configuration(self) -> tuple[int, int]:
        return 5, 3

    def snapshot_to(self, out, progress=None) -> int:
        for chunk in (b"snap" * 1000, b"shot" * 1000):
            out.write(chunk)
            if progress:
                progress(len(chunk))
        return 8000

    def inventory(self) -> Inventory:
        return INVENTORY


class _FailingSource(_Source):
    def snapshot_to(self, out, progress=None) -> int:
        out.write(b"half a snapshot")
        raise ConnectionError("the snapshot broke off")


def test_create_writes_snapshot_then_manifest_with_checksums_and_the_metric(tmp_path):
    metrics = tmp_path / "textfile" / "mirage_backup.prom"
    service = BackupService(
        store=FileBackupStore(tmp_path / "backups"),
        source=_Source(),
        metrics=TextfileBackupMetrics(metrics),
        clock=lambda: NOW,
    )
    seen: list[int] = []
    backup = service.create(seen.append)
    assert seen and backup.path.name == "mirage-20261204T120000Z"
    directory, manifest = service.check(backup.path)
    assert manifest.files["vault.snap"].bytes == 8000 and manifest.inventory == INVENTORY
    assert (manifest.key_shares, manifest.key_threshold) == (5, 3)
    assert f"mirage_backup_last_success_timestamp_seconds {NOW.timestamp():.3f}" in metrics.read_text()
    assert sorted(p.name for p in directory.iterdir()) == ["manifest.json", "vault.snap"]  # no temp files left
    assert oct((directory / "vault.snap").stat().st_mode & 0o777) == "0o600"


def test_a_failed_snapshot_leaves_no_file_and_no_manifest(tmp_path):
    store = FileBackupStore(tmp_path / "backups")
    with pytest.raises(ConnectionError):
        BackupService(store=store, source=_FailingSource(), clock=lambda: NOW).create()
    (directory,) = (tmp_path / "backups").iterdir()
    assert list(directory.iterdir()) == []
    assert [r.manifest for r in store.list()] == [None]  # listed as interrupted


def test_check_names_a_missing_snapshot_and_an_unknown_path(tmp_path):
    service = BackupService(store=FileBackupStore(tmp_path), source=_Source(), clock=lambda: NOW)
    backup = service.create()
    (backup.path / "vault.snap").unlink()
    with pytest.raises(BackupCorrupt, match=r"vault\.snap is missing"):
        service.check(backup.path / "manifest.json")
    with pytest.raises(BackupCorrupt, match=r"no manifest\.json"):
        service.check(tmp_path)


def test_prune_removes_only_what_the_policy_drops(tmp_path):
    store = FileBackupStore(tmp_path)
    for days in (0, 1, 45):
        BackupService(store=store, source=_Source(), clock=lambda d=days: NOW - timedelta(days=d)).create()
    service = BackupService(store=store, clock=lambda: NOW)
    assert [b.path.name for b in service.prune(RetentionPolicy(), dry_run=True)] == ["mirage-20261020T120000Z"]
    assert len(store.list()) == 3
    service.prune(RetentionPolicy())
    assert [b.created_at for b in service.list()] == [NOW, NOW - timedelta(days=1)]


def test_the_hashing_writer_counts_what_it_writes(tmp_path):
    entry = FileBackupStore(tmp_path).write_atomically(tmp_path / "f", lambda out: out.write(b"abc"))
    assert entry.bytes == 3 and entry.sha256.startswith("ba7816bf")
    assert io.BytesIO((tmp_path / "f").read_bytes()).read() == b"abc"
