"""``retrieve``: an analyst's request, now: one deduction's documents (on a
retailer account) or one PRO's POD (on a carrier account)."""

from __future__ import annotations

from sqlalchemy import select

from bots.context import JobContext
from bots.tasks.pods import PodTarget, pods
from bots.tasks.sync import fetch_documents
from portal_adapters.base import CarrierAdapter
from store.models import Deduction


async def retrieve(jc: JobContext) -> None:
    target = (jc.job.target or "").strip()
    if not target:
        raise ValueError("retrieve needs a target (deduction id or PRO number)")
    if isinstance(jc.adapter, CarrierAdapter):
        with jc.db() as s:
            ids = list(s.scalars(select(Deduction.id).where(Deduction.pro_number == target)))
        await pods(jc, [PodTarget(pro=target, bol=None, deduction_ids=ids)])
        return
    await fetch_documents(jc, only_missing=False, external_ids=[target])
