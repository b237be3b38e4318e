"""Incremental matching judges only what changed, and always ends where a full
run would: after every kind of change, the stored verdicts equal a fresh
computation over the whole store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from fixtures.generator import generate
from fixtures.scenario import Scenario
from matching.changes import Changes, scope
from matching.config import load_config
from matching.service import compute, fingerprint
from matching.service import run_matching as _run_matching
from records.schemas import ErpInvoiceLineRecord, ErpInvoiceRecord, ErpPromotionRecord
from store.models import Deduction, Verdict
from store.repositories import deductions, documents, erp
from store.repositories import matching as matching_repo
from tests.integration.matching.conftest import Fleet
from tests.integration.matching.loader import load_scenario
from tests.integration.store import factories
from tests.integration.store.conftest import Db


def run_matching(*args, **kwargs):  # type: ignore[no-untyped-def]
    """No other writer runs in these tests: changes are looked for from the last
    run's very start (the default margin would count the whole load as recent)."""
    return _run_matching(*args, margin=timedelta(0), **kwargs)


def _stored_equals_full(db: Db, today, config=None) -> None:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        full = {v.deduction_id: fingerprint(v) for v in compute(s, today, config)}
        stored = {d: fp for d, (fp, _, _) in matching_repo.fingerprints(s).items()}
    differ = sorted(d for d in full if stored.get(d) != full[d])
    assert differ == []
    assert set(stored) == set(full)


def _used_promotion(sc: Scenario) -> int:
    named = {d.promo_id for d in sc.deductions if d.promo_id}
    return next(i for i, p in enumerate(sc.erp.promotions) if p.promo_id in named)


def _reprice_a_pricing_claim(db: Db, sc: Scenario) -> None:
    """Bill the item of a valid pricing claim at 0.01 in the ERP: nothing is owed."""
    with db.sessions() as s:
        number, external_id = s.execute(
            select(Deduction.invoice_number, Deduction.external_id)
            .join(Verdict, Verdict.deduction_id == Deduction.id)
            .where(Verdict.category == "pricing", Verdict.validity == "valid")
            .limit(1)
        ).one()
    sku = next(d for d in sc.deductions if d.deduction_id == external_id).lines[0].sku
    j = next(i for i, inv in enumerate(sc.erp.invoices) if inv.invoice_number == number)
    inv = sc.erp.invoices[j]
    lines = [
        ln.model_copy(
            update={"unit_price": Decimal("0.01"), "amount": Decimal("0.01") * ln.quantity}
        )
        if ln.sku == sku
        else ln
        for ln in inv.lines
    ]
    sc.erp.invoices[j] = inv.model_copy(
        update={"lines": lines, "total": sum((ln.amount for ln in lines), Decimal(0))}
    )


def test_each_kind_of_change_is_judged_again_and_nothing_else(db: Db) -> None:
    sc = generate(11, "small")
    day = sc.as_of
    load_scenario(db.sessions, sc, evidence="as_of")
    first = run_matching(db.sessions, day)
    assert (first.mode, first.full_reason) == ("full", "first run")
    assert first.judged == first.total > 100

    # Nothing changed: the store is not even read.
    same = run_matching(db.sessions, day)
    assert (same.mode, same.judged, same.created + same.changed) == ("up_to_date", 0, 0)
    assert same.by_validity == first.by_validity

    # The robots bring the rest of the evidence: documents, PODs.
    load_scenario(db.sessions, sc, evidence="complete")
    more = run_matching(db.sessions, day)
    assert more.mode == "incremental"
    assert 0 < more.changed <= more.judged < more.total
    _stored_equals_full(db, day)

    # Finance corrects a promotion's agreed rate in the ERP.
    i = _used_promotion(sc)
    promo = sc.erp.promotions[i]
    sc.erp.promotions[i] = promo.model_copy(
        update={"rate_per_unit": promo.rate_per_unit + Decimal("0.50")}
    )
    load_scenario(db.sessions, sc, evidence="complete")
    promo_run = run_matching(db.sessions, day)
    assert promo_run.mode == "incremental"
    assert 0 < promo_run.judged < promo_run.total
    assert promo_run.changed > 0
    _stored_equals_full(db, day)

    # An invoice is re-priced in the ERP.
    _reprice_a_pricing_claim(db, sc)
    load_scenario(db.sessions, sc, evidence="complete")
    inv_run = run_matching(db.sessions, day)
    assert 0 < inv_run.judged < inv_run.total
    assert inv_run.changed > 0
    _stored_equals_full(db, day)

    # An analyst's category correction for one portal and code.
    with db.sessions() as s, s.begin():
        matching_repo.set_category_override(s, "megamart", "24", "damage", "analyst:ana")
    fix = run_matching(db.sessions, day)
    assert fix.mode == "incremental"
    assert 0 < fix.judged < fix.total
    _stored_equals_full(db, day)

    # Time passes: dispute windows close on open claims, and only those move.
    later = day + timedelta(days=45)
    aged = run_matching(db.sessions, later)
    assert aged.mode == "incremental"
    assert aged.changed > 0
    assert aged.judged < aged.total
    _stored_equals_full(db, later)

    # New rules: everything is judged again.
    rules = replace(load_config(), amount_tolerance=Decimal("5.00"))
    ruled = run_matching(db.sessions, later, config=rules)
    assert (ruled.mode, ruled.full_reason) == ("full", "the rules changed")
    assert ruled.judged == ruled.total
    _stored_equals_full(db, later, rules)

    # Back in time, and on request: full runs.
    back = run_matching(db.sessions, day, config=rules)
    assert back.full_reason == "judged as of an earlier day than the last run"
    _stored_equals_full(db, day, rules)
    asked = run_matching(db.sessions, day, config=rules, full=True)
    assert (asked.mode, asked.judged, asked.created + asked.changed) == ("full", asked.total, 0)


def test_fleet_match_says_what_it_judged(db: Db, fleet: Fleet) -> None:
    sc = generate(11, "small")
    load_scenario(db.sessions, sc, evidence="complete")
    day = sc.as_of.isoformat()

    def match(*args: str) -> dict:  # type: ignore[type-arg]
        r = fleet("match", "--json", "--today", day, *args)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    first = match()
    assert (first["mode"], first["judged"], first["total"]) == ("full", 146, 146)
    forced = match("--full")
    assert (forced["mode"], forced["full_reason"], forced["judged"]) == ("full", "asked for", 146)
    assert forced["by_validity"] == first["by_validity"]
    text = fleet("match", "--today", day)
    assert text.exit_code == 0, text.output
    # Within the safety margin of the last run, the recent load is looked at again.
    assert "judged" in text.stdout
    assert "written: 0 new, 0 changed, 146 unchanged" in text.stdout


def test_a_ref_named_only_in_a_backup_document_is_in_scope(db: Db) -> None:
    """A claim whose portal record carries no PRO (or promotion) but whose backup
    does: a change to that shipment or promotion must reach it, whichever way the
    documents are searched (a quote in the ref forces reading every backup)."""
    day = date(2026, 3, 2)
    refs = {"plain": "PRO-77", "quoted": 'PRO"78'}
    ids = {}
    with db.sessions() as s, s.begin():
        for name, ref in refs.items():
            did = deductions.upsert(
                s, factories.deduction(f"C-{name}", pro_number=None, invoice_number=f"INV-{name}")
            ).id
            doc = documents.register(
                s,
                factories.document(
                    f"backup {name}".encode(),
                    extraction_status="extracted",
                    extracted_fields={
                        "pro_number": {"value": f" {ref} "},
                        "promotion_number": {"value": f"DL-{name}"},
                    },
                ),
            ).id
            documents.link(s, doc, "backup", deduction_id=did)
            ids[name] = did
        other = deductions.upsert(s, factories.deduction("C-other", invoice_number="INV-9")).id
    run_matching(db.sessions, day)
    with db.sessions() as s:
        for name, ref in refs.items():
            assert scope(s, Changes(shipment_refs={ref}), day, day) == {ids[name]}
            assert scope(s, Changes(promo_ids={f"DL-{name}"}), day, day) == {ids[name]}
        both = scope(s, Changes(shipment_refs=set(refs.values())), day, day)
        assert both == set(ids.values())
        assert other not in both


def test_a_promotion_moved_off_an_item_reaches_the_claim_it_covered(db: Db) -> None:
    """The claim names no promotion; the ERP's promotion covered its item. When
    the promotion's items change, the old item is gone from the store: only the
    verdict's own evidence still says the claim depended on it."""
    day = date(2025, 6, 2)
    promo = ErpPromotionRecord(
        promo_id="P-1",
        customer="MegaMart Inc.",
        start_date=date(2025, 1, 1),
        end_date=date(2025, 3, 31),
        rate_per_unit=Decimal("1.00"),
        skus=["SKU-1"],
    )
    invoice = ErpInvoiceRecord(
        invoice_number="INV-5001",
        customer="MegaMart Inc.",
        invoice_date=date(2025, 2, 1),
        total=Decimal("500.00"),
        lines=[
            ErpInvoiceLineRecord(
                sku="SKU-1",
                quantity=10,
                unit_price=Decimal("50.00"),
                amount=Decimal("500.00"),
            )
        ],
    )
    claim = factories.deduction(
        "CB-P1",
        reason_code="50",
        reason_text="Promotional allowance",
        category="promotion",
        amount=Decimal("10.00"),
        pro_number=None,
        carrier=None,
    )
    with db.sessions() as s, s.begin():
        erp.upsert_invoice(s, invoice)
        erp.upsert_promotion(s, promo)
        did = deductions.upsert(s, claim).id
    run_matching(db.sessions, day)
    with db.sessions() as s:
        before = matching_repo.get_verdict(s, did)
        assert before is not None
        assert before.validity == "valid"
        assert {"kind": "erp_promotion", "ref": "P-1"}.items() <= before.evidence[1].items()
    with db.sessions() as s, s.begin():
        erp.upsert_promotion(s, promo.model_copy(update={"skus": ["SKU-2"]}))
    moved = run_matching(db.sessions, day)
    assert (moved.mode, moved.judged, moved.changed) == ("incremental", 1, 1)
    with db.sessions() as s:
        after = matching_repo.get_verdict(s, did)
        assert after is not None
        assert after.validity == "invalid"
    _stored_equals_full(db, day)
