"""Logs without personal data or forged lines.

c360's own log calls name types and counts, never values. Two things still need guarding:
the HTTP access log, which would print every path and query string (``/api/profiles/
by-identifier/email/somchai@example.com``, ``/api/profiles?query=สมชาย``), and any text a
caller controls reaching a log line with a CR or LF in it, which would forge a new line.
"""

import logging
import logging.config
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

SAFE_QUERY_PARAMETERS = frozenset(
    {"limit", "cursor", "format", "kinds", "since", "until", "status", "kind", "overdue", "type"}
)
"""Query parameters whose values are never personal data and help reading the access log."""

_EMAIL = re.compile(r"[^\s@/<>\"']+@[^\s@/<>\"']+\.[A-Za-z]{2,}")
_IDENTIFIER_PATH = re.compile(r"(/by-identifier/[^/?]+/)[^?]*")
_PROFILE_PATH = re.compile(r"(/(?:profiles|persons?)/)([^/?]*@[^/?]*)")


def escape_line_breaks(text: str) -> str:
    """CR and LF (and the other line separators) as visible escapes: one record, one line."""
    return (
        text.replace("\\", "\\\\")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def redact_path(path: str) -> str:
    """A request path and query as the access log may show it: identifier values in the path
    and query values (except :data:`SAFE_QUERY_PARAMETERS`) replaced by ``***``."""
    base, sep, query = path.partition("?")
    base = _IDENTIFIER_PATH.sub(r"\1***", base)
    base = _PROFILE_PATH.sub(r"\1***", base)
    if sep:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, v if k in SAFE_QUERY_PARAMETERS else "***") for k, v in pairs], safe="*,:"
        )
    return base + sep + query


class SafeFormatter(logging.Formatter):
    """Formats as usual, then escapes line breaks (exception tracebacks are kept readable but
    each of their lines is prefixed, so none can pass for a record of its own) and masks
    anything shaped like an email address that slipped into a message."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_text
        record.exc_text = None
        try:
            message = record.getMessage()
            record_copy = logging.makeLogRecord({**record.__dict__, "msg": "%s", "args": ()})
            record_copy.message = message
            record_copy.msg = _EMAIL.sub("<email>", escape_line_breaks(message))
            record_copy.exc_info = None
            line = super().format(record_copy)
        finally:
            record.exc_text = saved
        if record.exc_info:
            trace = _EMAIL.sub("<email>", self.formatException(record.exc_info))
            line += "".join(f"\n  | {escape_line_breaks(part)}" for part in trace.splitlines())
        return line


class AccessLogRedactor(logging.Filter):
    """For ``uvicorn.access``: its records carry the path with the query string as the third
    argument; that argument is redacted by :func:`redact_path`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The logging configuration of ``c360 serve`` and ``c360 worker``: also given to uvicorn
    (``log_config``), so its access and error logs go through the same guards."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"access": {"()": AccessLogRedactor}},
        "formatters": {"safe": {"()": SafeFormatter, "fmt": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "safe",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "safe",
                "filters": ["access"],
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "uvicorn.access": {"level": level, "handlers": ["access"], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> dict[str, Any]:
    """Install :func:`logging_config`; returns it for uvicorn."""
    config = logging_config(level)
    logging.config.dictConfig(config)
    return config
