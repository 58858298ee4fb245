"""The one authorization policy: admin abilities and whose data a caller names."""

from __future__ import annotations

import pytest

from domain.authorization import AdminAbility, authorize, may_act_on
from domain.errors import Forbidden
from domain.values import Principal

pytestmark = pytest.mark.unit

ALICE = Principal(user_id="alice")
ADMIN = Principal(user_id="root", is_admin=True)


@pytest.mark.parametrize("ability", list(AdminAbility))
def test_every_admin_ability_is_refused_to_a_user_and_granted_to_an_admin(ability):
    with pytest.raises(Forbidden, match=f"only admins may {ability.value}"):
        authorize(ALICE, ability)
    authorize(ADMIN, ability)


def test_a_caller_acts_on_their_own_data_only():
    assert may_act_on(ALICE, "alice")
    assert not may_act_on(ALICE, "bob") and not may_act_on(ADMIN, "alice")
