"""Structured JSON logs on stderr, with the project's formatter (`common.logs`): only the message and
explicitly passed ``fields`` are written (bearer tokens and JWTs are masked on top), so a request's
headers or a secret can only reach the log if code passes it on purpose — and nothing here does."""

from __future__ import annotations

import logging
from typing import Any

from common.logs import JsonFormatter


class ProcessJsonFormatter(JsonFormatter):
    """The project's JSON lines plus the process id (several gunicorn workers share one stderr)."""

    def format(self, record: logging.LogRecord) -> str:
        record.fields = {"pid": record.process, **getattr(record, "fields", {})}
        return super().format(record)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document (also given to gunicorn) writing JSON lines to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": ProcessJsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
