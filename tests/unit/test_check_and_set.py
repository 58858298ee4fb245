"""The one check-and-set retry helper."""

from __future__ import annotations

import pytest

from domain.check_and_set import retry_on_conflict
from domain.errors import VersionConflict
from domain.secrets import environment_path, locate, user_root

pytestmark = pytest.mark.unit


def conflicting(times: int, result: str = "written"):
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(len(calls))
        if len(calls) <= times:
            raise VersionConflict("someone wrote meanwhile", current_version=len(calls))
        return result

    return attempt, calls


async def test_it_tries_again_until_a_write_lands():
    attempt, calls = conflicting(2)
    assert await retry_on_conflict(attempt, attempts=3) == "written"
    assert len(calls) == 3


async def test_exhausted_it_raises_the_last_conflict_or_the_callers_message():
    attempt, calls = conflicting(5)
    with pytest.raises(VersionConflict) as last:
        await retry_on_conflict(attempt, attempts=2)
    assert (len(calls), last.value.current_version) == (2, 2)  # the caller's cas answer is kept

    attempt, _ = conflicting(5)
    with pytest.raises(VersionConflict, match="changing too fast") as worded:
        await retry_on_conflict(attempt, attempts=3, exhausted="changing too fast")
    assert worded.value.current_version is None


async def test_other_errors_are_not_retried():
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        raise KeyError("not a conflict")

    with pytest.raises(KeyError):
        await retry_on_conflict(attempt, attempts=5)
    assert calls == [1]


def test_every_vault_path_starts_at_the_users_root():
    root = user_root("alice")
    assert root == "users/alice"
    assert environment_path("alice", "production") == f"{root}/env_vars/production"
    assert locate("alice", "db").path == f"{root}/custom/db"
