"""A store filled only by the robots, judged by the matcher (the browser test
and ``bench/matching_bench.py robot`` share it).

The path is the product's own, step by step, with no loader: the demo fleet
serves the world and imports the ERP extract; every retailer account syncs;
:func:`store.extraction_pass.extract_pending` reads each account's fetched
documents (called per account, as the pipeline's step does);
the carriers' PODs are fetched for the shipments the claims name; the matcher
runs; the evidence it names as missing (a POD for a fine's shipment, a
backup) is fetched by ``retrieve`` jobs from the on-demand queue, as the
scheduler's feeder does; what was fetched is read; the matcher runs again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.jobs import Job
from bots.retry import RetryPolicy
from credentials.keyring_vault import CredentialVault
from fixtures.scenario import Scenario
from fleet.demo import fleet_demo
from matching.model import Verdict
from matching.service import RunSummary, run_matching
from scheduler.ondemand import claim_job, finish_for_result
from store.extraction_pass import extract_pending

MAX_RETRIEVAL_ROUNDS = 3


@dataclass
class RobotStore:
    verdicts: list[Verdict]
    runs: list[RunSummary]
    extraction: Counter[str]
    retrievals: int
    db_path: Path


async def fill_and_match(
    scenario: Scenario,
    data_dir: Path,
    *,
    policy: RetryPolicy | None = None,
    credentials: CredentialVault | None = None,
    say: Any = None,
) -> RobotStore:
    say = say or (lambda *_: None)
    async with fleet_demo(
        scenario, data_dir, policy=policy, credentials=credentials, say=say
    ) as demo:
        db, vault = demo.runtime.db, demo.runtime.vault
        extraction: Counter[str] = Counter()

        async def read(jobs: list[Job]) -> None:
            """Each account's fetched documents, read per account as the pipeline does."""
            for job in jobs:
                extraction.update(
                    await asyncio.to_thread(
                        extract_pending, db, vault, portal=job.portal, account=job.account
                    )
                )

        await demo.run_jobs(demo.retail_jobs)
        await read(demo.retail_jobs)
        await demo.run_jobs(demo.carrier_jobs)
        await read(demo.carrier_jobs)
        runs = [await asyncio.to_thread(run_matching, db, scenario.as_of)]
        retrievals = 0
        for _ in range(MAX_RETRIEVAL_ROUNDS):
            jobs = []
            while (claimed := claim_job(db)) is not None:
                jobs.append(claimed[1])
            if not jobs:
                break
            retrievals += len(jobs)
            say(f"retrieve: {len(jobs)} requests the matcher queued")
            for result in await demo.run_jobs(jobs):
                finish_for_result(db, result)
            await read(jobs)
            runs.append(await asyncio.to_thread(run_matching, db, scenario.as_of))
        final = await asyncio.to_thread(run_matching, db, scenario.as_of, full=True)
        return RobotStore(final.verdicts, [*runs, final], extraction, retrievals, data_dir)
