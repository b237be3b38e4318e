"""The carrier side of the fleet: POD jobs through the real runtime, adapters,
keyring, vault and store, against the simulated carriers in Chromium."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bots.health import health_report
from bots.jobs import Job
from credentials.keyring_vault import SecretKind
from credentials.secret import Secret
from fleet.demo import demo_keyring
from store.models import Account, Deduction, DocumentLink
from tests.fleet_fixtures import load_visible_deductions

pytestmark = pytest.mark.browser


def _missing(report, kind):  # type: ignore[no-untyped-def]
    return report.as_dict()["documents"][kind]["missing_detail"]


async def test_every_available_pod_is_fetched_once(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo() as demo:
        load_visible_deductions(demo)
        first = await demo.run_jobs(demo.carrier_jobs)
        assert [r.status for r in first] == ["succeeded", "succeeded"]
        report = demo.audit(first)
        assert {m["reason"] for m in _missing(report, "pod")} <= {"not yet available"}
        assert _missing(report, "bol") == []
        assert report.kinds["pod"].retrieved >= 15
        downloads = len(demo.world.world.record.downloads)
        second = await demo.run_jobs(demo.carrier_jobs)
        assert sum(r.counts.get("documents.new", 0) for r in second) == 0
        # only the PODs still missing are looked up again; nothing is downloaded twice
        pods_again = {
            (e.portal, e.ref)
            for e in demo.world.world.record.downloads[downloads:]
            if e.ref.startswith("pod")
        }
        assert pods_again == set()


async def test_captcha_lookups_become_needs_human_and_the_rest_completes(make_demo) -> None:  # type: ignore[no-untyped-def]
    async with make_demo(faults="parcelnet:captcha_rate=1") as demo:
        load_visible_deductions(demo)
        results = {r.job.portal: r for r in await demo.run_jobs(demo.carrier_jobs)}
        assert results["haulstar"].status == "succeeded"
        parcel = results["parcelnet"]
        assert parcel.status == "partial"
        assert parcel.needs_human
        assert {h.error_class for h in parcel.needs_human} == {"CaptchaRequired"}
        report = demo.audit()
        reasons = {m["ref"].split(":")[0]: m["reason"] for m in _missing(report, "pod")}
        assert reasons.get("parcelnet") == "needs-human (CaptchaRequired)"
        assert all(
            not m["ref"].startswith("haulstar") or m["reason"] == "not yet available"
            for m in _missing(report, "pod")
        )
        with demo.runtime.db() as s:
            queue = health_report(s)["needs_human"]
        assert {q["ref"] for q in queue} == {h.ref for h in parcel.needs_human}


async def test_wrong_password_is_tried_once_and_disables_the_account(  # type: ignore[no-untyped-def]
    make_demo, small_world, tmp_path
) -> None:
    creds = demo_keyring(tmp_path / "keyring", small_world)
    creds.set("parcelnet", "acme-parcel", Secret("not-the-password"), SecretKind.PASSWORD)
    async with make_demo(credentials=creds) as demo:
        load_visible_deductions(demo)
        job = Job("parcelnet", "acme-parcel", "pods")
        (first,) = await demo.run_jobs([job])
        assert (first.status, first.error_class) == ("failed", "BadCredentials")
        (second,) = await demo.run_jobs([job])
        assert second.error_class == "AccountDisabled"
        attempts = [
            e
            for e in demo.world.world.record.logins
            if e.portal == "parcelnet" and e.step == "password"
        ]
        assert len(attempts) == 1
        with demo.runtime.db() as s:
            acct = s.scalar(select(Account).where(Account.portal == "parcelnet"))
            assert acct is not None
            assert not acct.enabled
            report = health_report(s)
        row = next(a for a in report["accounts"] if a["portal"] == "parcelnet")
        assert row["enabled"] is False
        assert row["failures_by_class"] == {"BadCredentials": 1, "AccountDisabled": 1}


async def test_a_pod_lookup_by_pro_reaches_the_fine_that_points_at_it(  # type: ignore[no-untyped-def]
    make_demo, tiny_world
) -> None:
    """The matcher asks for an on-time fine's POD by the PRO of its invoice's ERP
    shipment (a ``retrieve`` on the carrier) before the carrier's ``pods`` pass
    has run. The POD is not imaged yet, so that lookup marks the shipment
    checked for the day and the pass skips it: the bill of lading the lookup
    fetched must already be the fine's (the Celery chaos test once ended with
    it on the shipment only)."""
    erp = {s.invoice_number: s for s in tiny_world.erp.shipments}
    async with make_demo(scenario=tiny_world, with_key_file=True) as demo:
        world = demo.world.world
        fine, shipment = next(
            (d, s)
            for d in tiny_world.deductions
            if d.reason_text.startswith("OTIF")
            and not (d.pro_number or d.bol_number)
            and d.invoice_number in erp
            and (
                s := world.shipment_by_pro(
                    erp[d.invoice_number].carrier, erp[d.invoice_number].pro_number
                )
            )
            and not world.pod_available(s)
        )
        load_visible_deductions(demo)
        lookup = next(j for j in demo.carrier_jobs if j.portal == shipment.carrier)
        retrieved = await demo.run_jobs(
            [Job(lookup.portal, lookup.account, "retrieve", shipment.pro_number)]
        )
        assert [r.status for r in retrieved] == ["succeeded"]
        assert (await demo.run_jobs([lookup]))[0].status == "succeeded"
        with demo.runtime.db() as s:
            roles = set(
                s.scalars(
                    select(DocumentLink.role)
                    .join(Deduction, Deduction.id == DocumentLink.deduction_id)
                    .where(
                        Deduction.portal == fine.portal, Deduction.external_id == fine.deduction_id
                    )
                )
            )
        assert roles == {"bol"}, f"claim {fine.deduction_id} (PRO {shipment.pro_number})"
