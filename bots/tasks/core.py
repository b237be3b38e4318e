"""The pipeline's core steps: no browser, only the store and the vault.

``read_documents`` reads every fetched document not read yet (text, fields,
CSV line detail, ZIP members: store/extraction_pass.py), ``match`` judges what
changed (matching/service.py, incremental), then raises the day's deadline
alert and keeps the day's headline KPIs (matching/kpi_history.py), and
``queue_disputes`` hands approved dispute decisions to filing under the filing policy
(dispute_filing/handoff.py). Each runs its synchronous store work on a
thread, so one job's commit never stalls another job's browser on the event
loop. Each is idempotent: a second run finds nothing new to do.
"""

from __future__ import annotations

import asyncio

from bots.context import CoreContext
from dispute_filing import deadlines
from dispute_filing.handoff import queue_approved_disputes
from dispute_filing.outcomes import read_from_remittances
from matching.kpi_history import record_day
from matching.service import run_matching
from store.db import transaction
from store.extraction_pass import extract_pending


async def read_documents(cc: CoreContext) -> None:
    counts = await asyncio.to_thread(extract_pending, cc.db, cc.services.vault)
    for outcome, n in counts.items():
        if outcome == "quarantined":  # past a bound on work: the run needs a person
            cc.counts["quarantined"] += n
        else:
            cc.counts[f"documents.{outcome}" if outcome != "documents" else "documents.read"] += n


async def match(cc: CoreContext) -> None:
    summary = await asyncio.to_thread(run_matching, cc.db, cc.services.today())
    cc.counts["verdicts.judged"] += summary.judged
    cc.counts["verdicts.created"] += summary.created
    cc.counts["verdicts.changed"] += summary.changed
    cc.counts["retrievals.queued"] += summary.retrievals

    def repaid() -> None:  # partial wins the portals named no amount for
        with transaction(cc.db) as s:
            if settled := read_from_remittances(s):
                cc.counts["disputes.recovered_by_remittance"] += len(settled)

    await asyncio.to_thread(repaid)

    def daily() -> None:
        with transaction(cc.db) as s:  # what closes soon, once a business day, where ops looks
            if deadlines.alert(s, cc.services.today()) is not None:
                cc.counts["disputes.deadline_alerts"] += 1
        with transaction(cc.db) as s:  # the day's headline KPIs, for the trend
            if record_day(s, cc.services.today()):
                cc.counts["kpis.recorded"] += 1

    await asyncio.to_thread(daily)


async def queue_disputes(cc: CoreContext) -> None:
    def hand_over() -> None:
        with transaction(cc.db) as s:
            counts, _handed = queue_approved_disputes(s, cc.services.filing, cc.services.today())
        cc.counts.update({f"disputes.{k}": v for k, v in counts.items()})

    await asyncio.to_thread(hand_over)
