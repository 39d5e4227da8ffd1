"""The process's log: lines for people (``text``), or one JSON object a line (``json``).

A JSON line has ``time``, ``level``, ``logger`` and ``message``, then what the
line is about, where there is one: ``message_id``, ``device``, ``account``
(also ``webhook``, ``delivery``, ``request_id``), from the call's ``extra`` or
from `log_context` around the work. Secrets never reach a log line: nothing
logs a key, a token or a signing secret, and URLs are logged as
`kurir.egress.redact` shows them.
"""

import contextlib
import contextvars
import datetime
import logging
from collections.abc import Iterator

import msgspec

#: What a line may be about, in the order a JSON line shows them.
SUBJECTS = ("message_id", "device", "account", "webhook", "delivery", "request_id")

_context: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "kurir_log_context", default=None
)
_ENCODER = msgspec.json.Encoder()


@contextlib.contextmanager
def log_context(**subjects: object) -> Iterator[None]:
    """Every line logged in the block (in this task) is about ``subjects`` too."""
    outer = _context.get()
    token = _context.set({**(outer or {}), **subjects})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, not more lines)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get() or {}
        for subject in SUBJECTS:
            value = getattr(record, subject, None)
            if value is None:
                value = context.get(subject)
            if value is not None:
                line[subject] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line).decode()


class _TextSubjects(logging.Formatter):
    """Plain lines, with what they are about appended as ``key=value`` unless they say it."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        said = record.getMessage()
        context = _context.get() or {}
        about = []
        for subject in SUBJECTS:
            value = getattr(record, subject, None)
            if value is None:
                value = context.get(subject)
            # An id the message already holds is not repeated (a short value
            # such as an account number may be in it by chance, so it is).
            if value is not None and not (len(str(value)) >= 8 and str(value) in said):
                about.append(f"{subject}={value}")
        if not about:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{' '.join(about)}]{newline}{rest}"


def configure_logging(*, level: str, json: bool) -> None:
    """The root logger's one handler, on stderr, in the format asked for."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json
        else _TextSubjects("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
