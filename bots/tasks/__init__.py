"""The task functions a job runs, by task name (bots/jobs.py lists them)."""

from __future__ import annotations

from bots.context import BrowserTask, CoreTask
from bots.tasks.core import match, queue_disputes, read_documents
from bots.tasks.disputes import dispute_status, file_dispute
from bots.tasks.pods import pods
from bots.tasks.retrieve import retrieve
from bots.tasks.sync import sync

BROWSER_TASK_FUNCTIONS: dict[str, BrowserTask] = {
    "sync": sync,
    "pods": pods,
    "retrieve": retrieve,
    "file_dispute": file_dispute,
    "dispute_status": dispute_status,
}
CORE_TASK_FUNCTIONS: dict[str, CoreTask] = {
    "read_documents": read_documents,
    "match": match,
    "queue_disputes": queue_disputes,
}
