"""A store filled only by the robots, judged by the matcher (the browser test
and ``bench/matching_bench.py robot`` share it).

The path is the product's own, with no loader: the demo fleet serves the
world, is configured as a user's, and imports the ERP extract; the pipeline
runs from every retailer's sync as ``fleet run`` runs it (documents read,
PODs from the carriers the claims name, matching); the evidence the matcher
still names as missing is fetched by ``retrieve`` jobs from the on-demand
queue, as the scheduler's feeder does, and the pipeline follows them (read,
match) again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.retry import RetryPolicy
from credentials.keyring_vault import CredentialVault
from fixtures.scenario import Scenario
from fleet.demo import fleet_demo
from matching.model import Verdict
from matching.service import RunSummary, run_matching
from scheduler.ondemand import claim_job, finish_for_result

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
    synced: list[Any] | None = None,
) -> RobotStore:
    """``synced``: ``data_dir`` already holds this world synced by the fleet
    (a copy of the tests' synced snapshot) and these are that sync's results;
    the retrieval rounds go on from there."""
    say = say or (lambda *_: None)
    async with fleet_demo(
        scenario, data_dir, policy=policy, credentials=credentials, say=say
    ) as demo:
        db = demo.runtime.db
        extraction: Counter[str] = Counter()

        def note(results: list[Any]) -> None:
            for r in results:
                if r.job.task == "read_documents":
                    extraction.update(
                        {k.split(".", 1)[1]: v for k, v in r.counts.items() if "." in k}
                    )

        note(synced if synced is not None else await demo.run_pipeline())
        runs: list[RunSummary] = []
        retrievals = 0
        for _ in range(MAX_RETRIEVAL_ROUNDS):
            jobs = []
            while (claimed := claim_job(db)) is not None:
                jobs.append(claimed[1])
            if not jobs:
                break
            retrievals += len(jobs)
            say(f"retrieve: {len(jobs)} requests the matcher queued")
            results = await demo.run_pipeline(jobs)
            for result in results:
                if result.job.task == "retrieve":
                    finish_for_result(db, result)
            note(results)
        final = await asyncio.to_thread(run_matching, db, scenario.as_of, full=True)
        return RobotStore(final.verdicts, [*runs, final], extraction, retrievals, data_dir)
