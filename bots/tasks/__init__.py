"""The task functions a job runs, by task name."""

from __future__ import annotations

from bots.tasks.pods import pods
from bots.tasks.retrieve import retrieve
from bots.tasks.sync import sync

TASK_FUNCTIONS = {
    "sync": sync,
    "pods": pods,
    "retrieve": retrieve,
}
