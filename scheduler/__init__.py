"""Schedules, the on-demand queue and dispatch (in-process or Celery). Contains no bot logic."""
