"""structlog configured once: JSON lines to a file for machines, readable lines
on the console for people.

Processors that must see every event (secret redaction, run-id binding) are
added here, in one chain, so no code path can log around them.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog

from records.private import private_dir, private_file

Processor = Callable[[Any, str, dict[str, Any]], Any]

_extra_processors: list[Processor] = []


FLEET_HANDLER = "fleet"  # the name of the handlers set up here (replaced, never doubled)


def add_processor(processor: Processor) -> None:
    """Register a processor (e.g. the secret scrubber) that runs before rendering.

    Call before :func:`configure_logging`; later calls re-configure.
    """
    if processor not in _extra_processors:
        _extra_processors.append(processor)


def configure_logging(
    *,
    level: str = "INFO",
    log_file: Path | None = None,
    json_console: bool = False,
    extra: Iterable[Processor] = (),
) -> None:
    """Route structlog and stdlib logging through one processor chain."""
    for p in extra:
        add_processor(p)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        *_extra_processors,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == FLEET_HANDLER:
            root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer()
                if json_console
                else structlog.dev.ConsoleRenderer(
                    colors=sys.stderr.isatty(),
                    # never rich tracebacks with local variables: locals may hold secrets
                    exception_formatter=structlog.dev.plain_traceback,
                ),
            ],
        )
    )
    console.set_name(FLEET_HANDLER)
    root.addHandler(console)
    if log_file is not None:
        private_dir(log_file.parent)
        fh = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=20_000_000, backupCount=5, encoding="utf-8"
        )
        private_file(log_file)  # rotated files follow the process umask (fleet/cli.py)
        fh.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        fh.set_name(FLEET_HANDLER)
        root.addHandler(fh)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
