"""JSON logs, one object per line, each carrying the correlation id in force."""

from __future__ import annotations

import logging
import sys

from pydantic import field_validator
from pythonjsonlogger.json import JsonFormatter

from headstore.context import correlation_id
from headstore.settings import EnvironmentSettings, variable


class LogSettings(EnvironmentSettings):
    level: str = variable("LOG_LEVEL", "INFO")

    @field_validator("level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"must be one of {', '.join(logging.getLevelNamesMapping())}")
        return level


class CorrelationFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.service = self.service
        return True


def configure(service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(CorrelationFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LogSettings.from_env().level)
    for noisy in ("kombu", "amqp", "nameko", "h2", "hpack", "eventsourcing", "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
