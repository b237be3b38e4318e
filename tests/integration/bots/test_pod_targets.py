"""Which shipments a carrier's ``pods`` job looks up (bots.tasks.pods.pod_targets),
on a real SQLite store: a claim that names no shipment is looked up by the ERP
shipment of its invoice when it is a fine, or when its portal gives no category
(the matcher may find it a fine from its backup and needs the POD in the same
pass; seen in the chaos tests: two such claims waited a whole run for a POD)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bots.tasks.pods import deductions_on_shipment, pod_targets
from records.schemas import Category, ErpShipmentRecord
from store.db import init_db, session_factory, transaction
from store.repositories import deductions as deductions_repo
from store.repositories import erp as erp_repo
from tests.integration.store.factories import deduction

TODAY = date(2026, 11, 1)


def _no_shipment(external_id: str, invoice: str, category: Category | None):  # type: ignore[no-untyped-def]
    return deduction(
        external_id,
        invoice_number=invoice,
        category=category,
        carrier=None,
        pro_number=None,
        bol_number=None,
    )


def test_a_claim_with_no_shipment_is_looked_up_by_its_invoices_shipment(tmp_path: Path) -> None:
    db = session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))
    with transaction(db) as s:
        for n, (invoice, pro) in enumerate([("INV-1", "111"), ("INV-2", "222"), ("INV-3", "333")]):
            erp_repo.upsert_shipment(
                s,
                ErpShipmentRecord(
                    shipment_id=f"S-{n}", invoice_number=invoice, carrier="haulstar", pro_number=pro
                ),
            )
        fine = deductions_repo.upsert(s, _no_shipment("F-1", "INV-1", Category.compliance_fine))
        unknown = deductions_repo.upsert(s, _no_shipment("U-1", "INV-2", None))
        deductions_repo.upsert(s, _no_shipment("P-1", "INV-3", Category.promotion))

    targets = {t.pro: t.deduction_ids for t in pod_targets(db, "haulstar", TODAY)}

    assert targets == {"111": [fine.id], "222": [unknown.id]}, "a promotion needs no POD"
    assert pod_targets(db, "parcelnet", TODAY) == [], "the ERP names the carrier"


def test_a_lookup_by_pro_links_to_every_claim_that_points_at_it(tmp_path: Path) -> None:
    """The matcher asks for a fine's POD by the PRO of its invoice's ERP shipment
    (``fleet retrieve`` on the carrier). What that lookup fetches must reach the
    fine as the ``pods`` pass would link it: the shipment is then checked for
    the day and the pass skips it (seen in the Celery chaos test: a fine's bill
    of lading linked to the shipment only)."""
    db = session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}"))
    with transaction(db) as s:
        erp_repo.upsert_shipment(
            s,
            ErpShipmentRecord(
                shipment_id="S-1", invoice_number="INV-1", carrier="haulstar", pro_number="111"
            ),
        )
        fine = deductions_repo.upsert(s, _no_shipment("F-1", "INV-1", Category.compliance_fine))
        named = deductions_repo.upsert(
            s,
            deduction("S-2", category=Category.shortage, carrier="HaulStar", pro_number="111"),
        )
        deductions_repo.upsert(
            s, deduction("S-3", category=Category.shortage, carrier="HaulStar", pro_number="999")
        )

    assert sorted(deductions_on_shipment(db, "haulstar", "111")) == sorted([fine.id, named.id])
    assert deductions_on_shipment(db, "parcelnet", "111") == [], "the ERP names the carrier"
    assert deductions_on_shipment(db, "haulstar", "222") == []
