"""``retrieve``: an analyst's request, now: one deduction's documents (on a
retailer account) or one PRO's POD (on a carrier account)."""

from __future__ import annotations

import asyncio

from bots.context import JobContext
from bots.tasks.pods import PodTarget, deductions_on_shipment, pods
from bots.tasks.sync import fetch_documents
from portal_adapters.base import CarrierAdapter


async def retrieve(jc: JobContext) -> None:
    target = (jc.job.target or "").strip()
    if not target:
        raise ValueError("retrieve needs a target (deduction id or PRO number)")
    if isinstance(jc.adapter, CarrierAdapter):
        ids = await asyncio.to_thread(deductions_on_shipment, jc.db, jc.job.portal, target)
        await pods(jc, [PodTarget(pro=target, bol=None, deduction_ids=ids)])
        return
    await fetch_documents(jc, only_missing=False, external_ids=[target])
