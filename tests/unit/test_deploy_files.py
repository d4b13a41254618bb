"""The deployment files say what the code does: docs/deploy.md, the systemd units and the
Containerfile name only real settings, real commands and options, and a real route."""

import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from c360.api import build_app
from c360.cli.main import app as cli_app
from c360.settings import Settings
from c360.storage import open_store

with warnings.catch_warnings():
    # starlette asks for httpx2, which the rest of the suite does not use yet
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
CONTAINERFILE = ROOT / "deploy" / "Containerfile"

NOT_SETTINGS = {"C360_LOG"}  # the JetStream stream's name

VARIABLE = re.compile(r"\bC360_[A-Z0-9_]*[A-Z0-9]")
COMMAND = re.compile(r"\bc360 ([a-z][a-z-]*(?![\w.])(?: [^\s`'\"|;)]+)*)")


def deploy_texts() -> dict[str, str]:
    files = [DEPLOY_DOC, *UNITS, CONTAINERFILE]
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in files}


def code_in(markdown: str) -> Iterator[str]:
    """The lines of fenced blocks and the inline code spans of a Markdown text."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    for block in fenced:
        yield from block.splitlines()
    outside = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    yield from re.findall(r"`([^`\n]+)`", outside)


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (click) command ``c360 <words>`` runs, and the words left for its options."""
    command: Any = typer.main.get_command(cli_app)
    rest = list(words)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def check_invocation(words: list[str]) -> None:
    command, rest = resolve(words)
    assert not hasattr(command, "commands"), f"c360 {' '.join(words)}: not a command"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in known, f"c360 {' '.join(words)}: no option {word}"


def test_the_variables_named_are_settings() -> None:
    fields = set(Settings.model_fields)
    for name, text in deploy_texts().items():
        for variable in set(VARIABLE.findall(text)) - NOT_SETTINGS:
            field = variable.removeprefix("C360_").split("__", 1)[0].lower()
            assert field in fields, f"{name} names {variable}, which is not a setting"


def test_the_doc_names_the_production_settings() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for variable in ("C360_DATABASE_URL", "C360_EVENT_BUS", "C360_MAX_WORKER_LAG"):
        assert variable in doc


def test_the_units_run_real_commands() -> None:
    started = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        (line,) = re.findall(r"^ExecStart=(.*)$", text, flags=re.M)
        argv = shlex.split(line)
        assert argv[0].endswith("/c360")
        check_invocation(argv[1:])
        started.append(argv[1:])
    assert started[0][:2] == ["serve", "--no-worker"]  # c360-api@.service
    assert started[1] == ["worker"]  # c360-worker@.service


@pytest.mark.parametrize("words", [["serve", "--no-worker"], ["worker"], ["db", "upgrade"]])
def test_the_production_commands_exist(words: list[str]) -> None:
    check_invocation(words)


def test_the_commands_in_the_doc_exist() -> None:
    found = [
        match.split()
        for line in code_in(DEPLOY_DOC.read_text(encoding="utf-8"))
        for match in COMMAND.findall(line)
    ]
    assert ["db", "upgrade"] in found
    for words in found:
        check_invocation(words)


def test_the_container_runs_real_commands() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, flags=re.M)
    assert re.search(r"^USER c360$", text, flags=re.M)
    assert re.search(r"^EXPOSE (\d+)$", text, flags=re.M).group(1) == str(  # type: ignore[union-attr]
        Settings.model_fields["port"].default
    )
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", text, flags=re.M)
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.M)
    assert eval(entrypoint) == ["c360"]  # noqa: S307 - a JSON list from our own file
    check_invocation(eval(cmd))  # noqa: S307


def test_the_healthcheck_asks_a_real_route(tmp_path: Path) -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    (path,) = re.findall(r"http://127\.0\.0\.1:8360(/[\w/-]*)", text)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c360.db'}")
    engine = open_store(settings.database_url)
    try:
        with TestClient(build_app(settings, engine, run_worker=False)) as client:
            assert client.get(path).status_code == 200
    finally:
        engine.dispose()
