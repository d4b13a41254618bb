"""Run ``c360`` commands in the test process, as an operator would see them from a shell.

A new ``python -m c360`` process costs 1.5-2 s of imports per command, most of the time of a
CLI test; in-process the same command takes milliseconds. The result looks like a finished
subprocess (``returncode``, ``stdout``, ``stderr``) and the differences that matter are
removed:

- the environment is the test's plus the given variables, set only during the command;
- the shared rich consoles are as wide as ``COLUMNS`` says (a new process reads it when it
  makes them);
- a crash leaves its traceback on ``stderr`` and exit code 1, as Python does;
- log records of WARNING and above reach ``stderr`` as through Python's last-resort handler
  (commands other than ``serve`` and ``worker`` set up no logging).

Warnings are errors here (``filterwarnings``), stricter than a process that prints them: a
command that leaves a connection open fails its test with the ResourceWarning.

What cannot be the same stays a subprocess: servers (``serve``, ``worker``, ``demo``), signals,
``kill -9``, and one check of the installed entry point (tests/integration/test_cli.py).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from typer.testing import CliRunner

from c360.cli.common import err, out
from c360.cli.main import app


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished ``c360`` command left: the shape of ``subprocess.CompletedProcess``."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class _CurrentStderr(logging.Handler):
    """Python's last-resort handler (WARNING and above, the bare message, to whatever
    ``sys.stderr`` is when the record is emitted), for a process with no logging set up."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # as the standard handlers do: logging never breaks the command
            self.handleError(record)


@contextmanager
def _as_a_new_process(env: Mapping[str, str]) -> Iterator[None]:
    saved = out.width, err.width
    columns = env.get("COLUMNS", "")
    if columns.isdigit():
        out.width = err.width = int(columns)
    root = logging.getLogger()
    handler = _CurrentStderr()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        out.width, err.width = saved


def run_c360(
    *args: str, env: Mapping[str, str] | None = None, input: str | bytes | None = None
) -> CommandResult:
    """``c360 ARGS`` with ``env`` added to the environment and ``input`` on standard input."""
    env = dict(env or {})
    with _as_a_new_process(env):
        result = CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=True)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
        code = 1
    return CommandResult(args=("c360", *args), returncode=code, stdout=result.stdout, stderr=stderr)


def c360(database_url: str, *args: str, **env: str) -> CommandResult:
    """``c360 ARGS`` against the store at ``database_url``, tables 200 columns wide."""
    return run_c360(*args, env={"C360_DATABASE_URL": database_url, "COLUMNS": "200", **env})
