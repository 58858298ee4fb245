"""Who may do what: the one authorization policy. Every use case that acts on someone else's data
asks it; controllers and guards never decide this themselves.

Data isolation needs no rule here: every Vault path is built from the caller's own user id
(`domain.secrets.locate`), so a user can only ever name their own secrets. What is decided here is
the admin surface: metadata of another user's secrets, revoking them, another user's audit trail,
the token-migration counts. A refusal is `Forbidden` (403), raised inside the audited operation so
the attempt is on the trail with outcome `denied`.
"""

from __future__ import annotations

from enum import StrEnum

from domain.errors import Forbidden
from domain.values import Principal


class AdminAbility(StrEnum):
    """What only an admin may do; the value words the refusal."""

    LIST_USER_SECRETS = "list another user's secrets"
    REVOKE_USER_SECRET = "revoke another user's secret"
    READ_USER_AUDIT_TRAIL = "read another user's audit trail"
    READ_MIGRATION_STATUS = "see the token migration status"


def authorize(principal: Principal, ability: AdminAbility) -> None:
    """Return if `principal` may exercise `ability`, else raise `Forbidden`."""
    if not principal.is_admin:
        raise Forbidden(f"only admins may {ability.value}")


def may_act_on(principal: Principal, owner_id: str) -> bool:
    """Whether `owner_id` is the caller's own: anyone may act on their own data without an ability."""
    return owner_id == principal.user_id
