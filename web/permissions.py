"""Who may do what in the web app and its API: one table, checked on the server
for every route (``web.auth.require``). The business rules behind each action
(segregation of duties, approval chain and limits, dispute windows) are the
domain's (``matching.approvals``): this table only says which access role may
ask for the action at all."""

from __future__ import annotations

from matching.approvals import ACCESS_ROLES

ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ACCESS_ROLES),
    "comment": frozenset(ACCESS_ROLES),
    "propose": frozenset({"analyst", "admin"}),
    "approve": frozenset({"approver", "admin"}),
    "delegate": frozenset({"approver", "admin"}),
    "fetch": frozenset({"analyst", "ops", "admin"}),
    "release": frozenset({"approver", "admin"}),
    "metrics": frozenset({"ops", "admin"}),
    "operate": frozenset({"ops", "admin"}),
}
"""action -> the access roles allowed it. ``approve`` covers rejecting;
``release`` files a dispute the filing policy left for a person; ``metrics``
reads ``/metrics`` (Prometheus scrapes with an ops token); ``operate`` is the
ops pages: fleet health, failure artifacts, pausing accounts, clearing
needs-human items."""

STAND_IN_ACTIONS = frozenset({"approve"})
"""Actions also allowed to anyone, whatever their access, while they stand in
for someone (a delegation in force, ``matching.approvals.stands_in_for``): a
manager away delegates to whoever they choose, and the approval chain still
checks each step's role when the delegate acts."""


def allowed(access: str, action: str) -> bool:
    return access in ACTIONS[action]


def actions_for(access: str) -> frozenset[str]:
    return frozenset(a for a, roles in ACTIONS.items() if access in roles)


__all__ = ["ACTIONS", "STAND_IN_ACTIONS", "actions_for", "allowed"]
