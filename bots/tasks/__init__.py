"""The task functions a job runs, by task name."""

from __future__ import annotations

from bots.tasks.disputes import dispute_status, file_dispute
from bots.tasks.pods import pods
from bots.tasks.retrieve import retrieve
from bots.tasks.sync import sync

TASK_FUNCTIONS = {
    "sync": sync,
    "pods": pods,
    "retrieve": retrieve,
    "file_dispute": file_dispute,
    "dispute_status": dispute_status,
}
