"""The store follows fleet.toml's [[accounts]]: new accounts appear enabled, ones
that left the file are marked removed (their deductions stay), re-adding one
revives it, and an account a person or the portal disabled is never re-enabled
by a reconcile. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from records.schemas import PortalKind, RunStatus
from store.db import transaction
from store.models import AuditLog, Deduction, HealthEvent, Portal
from store.repositories import accounts, runs
from store.repositories import deductions as deductions_repo
from store.repositories.accounts import Declared, reconcile_accounts, state_of
from tests.integration.store.conftest import Db
from tests.integration.store.factories import deduction

MM = ("megamart", "ap@supplier.example")
HS = ("haulstar", "SUP01")
BAD_LOGIN = "the portal refused the login (BadCredentials)"


def _reconcile(db: Db, *declared: Declared) -> accounts.Reconciled:
    with transaction(db.sessions) as s:
        return reconcile_accounts(s, declared)


def _states(db: Db) -> dict[tuple[str, str], tuple[str, str | None]]:
    with transaction(db.sessions, write=False) as s:
        return {
            (a.portal, a.username): (state_of(a), a.disabled_reason)
            for a in accounts.all_accounts(s)
        }


def test_new_accounts_appear_enabled_and_a_second_reconcile_changes_nothing(db: Db) -> None:
    first = _reconcile(db, Declared(*MM), Declared(*HS))
    assert sorted(first.added) == sorted([MM, HS])
    assert _states(db) == {MM: ("enabled", None), HS: ("enabled", None)}
    with transaction(db.sessions, write=False) as s:
        assert [a.username for a in accounts.enabled_accounts(s, "megamart")] == [MM[1]]
        audited = s.scalar(select(func.count()).select_from(AuditLog))
    again = _reconcile(db, Declared(*MM), Declared(*HS))
    assert not again.changed
    with transaction(db.sessions, write=False) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == audited == 2


def test_an_account_that_left_the_file_is_removed_with_its_deductions_kept(db: Db) -> None:
    _reconcile(db, Declared(*MM), Declared(*HS))
    with transaction(db.sessions) as s:
        deductions_repo.upsert(s, deduction())  # CB-1001 of megamart/ap@supplier.example
    gone = _reconcile(db, Declared(*HS))
    assert gone.removed == [MM]
    assert _states(db)[MM] == ("removed", accounts.REMOVED_REASON)
    with transaction(db.sessions, write=False) as s:
        assert accounts.enabled_accounts(s, "megamart") == []
        assert s.scalar(select(func.count()).select_from(Deduction)) == 1
        entry = s.execute(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        assert (entry.actor, entry.action) == ("fleet.toml", "account.removed")

    back = _reconcile(db, Declared(*MM), Declared(*HS))
    assert back.revived == [MM]
    assert back.added == []
    assert _states(db)[MM] == ("enabled", None)
    with transaction(db.sessions, write=False) as s:
        assert [a.username for a in accounts.enabled_accounts(s, "megamart")] == [MM[1]]
        assert s.scalar(select(func.count()).select_from(Deduction)) == 1


def test_an_account_disabled_by_the_portal_or_a_person_stays_disabled(db: Db) -> None:
    _reconcile(db, Declared(*MM), Declared(*HS))
    with transaction(db.sessions) as s:  # what the runtime does on BadCredentials
        accounts.set_enabled(s, *MM, False, reason=BAD_LOGIN)
        accounts.change_state(s, *HS, False, "carrier asked us to stop", actor="cli:ana")
    kept = _reconcile(db, Declared(*MM), Declared(*HS))
    assert not kept.changed
    assert kept.kept_disabled == {MM: BAD_LOGIN, HS: "carrier asked us to stop"}
    assert _states(db) == {
        MM: ("disabled", BAD_LOGIN),
        HS: ("disabled", "carrier asked us to stop"),
    }

    # removed from the file and added back: still disabled, for the same reason
    _reconcile(db, Declared(*HS))
    state, reason = _states(db)[MM]
    assert state == "removed"
    assert reason is not None
    assert BAD_LOGIN in reason
    back = _reconcile(db, Declared(*MM), Declared(*HS))
    assert back.revived == [MM]
    assert _states(db)[MM] == ("disabled", BAD_LOGIN)
    with transaction(db.sessions, write=False) as s:
        assert accounts.enabled_accounts(s) == []

    # only a person enables it again; that is audited and shows as a health event
    with transaction(db.sessions) as s:
        assert accounts.change_state(s, *MM, True, None, actor="cli:ana")
        assert not accounts.change_state(s, *MM, True, None, actor="cli:ana")
    assert _states(db)[MM] == ("enabled", None)
    with transaction(db.sessions, write=False) as s:
        kinds = s.scalars(select(HealthEvent.kind).order_by(HealthEvent.id)).all()
        assert kinds == ["account_disabled", "account_enabled"]
        last = s.execute(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
        assert (last.actor, last.action, last.after["enabled"]) == (
            "cli:ana",
            "account.enabled",
            True,
        )


def test_enabled_false_in_the_file_disables_and_flipping_it_back_enables(db: Db) -> None:
    _reconcile(db, Declared(*MM, enabled=False))
    assert _states(db)[MM] == ("disabled", accounts.FILE_DISABLED_REASON)
    flipped = _reconcile(db, Declared(*MM))
    assert flipped.enabled == [MM]
    assert _states(db)[MM] == ("enabled", None)
    assert _reconcile(db, Declared(*MM, enabled=False)).disabled == [MM]
    # removed while enabled = false, re-added without it: enabled (the file decides)
    _reconcile(db)
    assert _states(db)[MM] == ("removed", accounts.REMOVED_REASON)
    _reconcile(db, Declared(*MM))
    assert _states(db)[MM] == ("enabled", None)


def test_portal_kinds_are_written_and_last_runs_read_back(db: Db) -> None:
    with transaction(db.sessions) as s:
        reconcile_accounts(
            s,
            [Declared(*MM), Declared(*HS)],
            portal_kinds={"megamart": "retailer", "haulstar": "carrier"},
        )
        runs.start(s, "r1", "megamart", "sync", account=MM[1])
        runs.finish(s, "r1", RunStatus.failed, error_class="PortalUnavailable")
        runs.start(s, "r2", "megamart", "sync", account=MM[1])
        runs.finish(s, "r2", RunStatus.succeeded)
    with transaction(db.sessions, write=False) as s:
        kinds = dict(s.execute(select(Portal.name, Portal.kind)).all())
        assert kinds == {"megamart": PortalKind.retailer, "haulstar": PortalKind.carrier}
        last = accounts.last_runs(s)
    assert set(last) == {MM}
    assert (last[MM].status, last[MM].task, last[MM].error_class) == ("succeeded", "sync", None)
    assert last[MM].finished_at is not None


def test_mark_removed_is_idempotent_and_keeps_a_persons_reason(db: Db) -> None:
    _reconcile(db, Declared(*MM))
    with transaction(db.sessions) as s:
        accounts.change_state(s, *MM, False, "on holiday", actor="cli:ana")
        assert accounts.mark_removed(s, *MM, actor="cli:ana")
        assert not accounts.mark_removed(s, *MM, actor="cli:ana")
        assert not accounts.mark_removed(s, "megamart", "nobody", actor="cli:ana")
    state, reason = _states(db)[MM]
    assert state == "removed"
    assert reason == f"{accounts.REMOVED_REASON}; was disabled: on holiday"
    _reconcile(db, Declared(*MM))
    assert _states(db)[MM] == ("disabled", "on holiday")
