"""What every command shares: the consoles, settings, the store and error reporting."""

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import Engine

from c360.errors import C360Error, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from c360.settings import Settings
from c360.storage import open_store

err = Console(stderr=True)
out = Console()

EXIT_CODES: dict[type[C360Error], int] = {
    InvalidInput: 2,
    Unauthorized: 3,
    Forbidden: 3,
    NotFound: 4,
    Conflict: 5,
}


@contextmanager
def reported_errors() -> Iterator[None]:
    try:
        yield
    except C360Error as exc:
        err.print(f"[red]error:[/red] {exc}")
        code = next((c for cls, c in EXIT_CODES.items() if isinstance(exc, cls)), 1)
        raise typer.Exit(code) from None


def load_settings() -> Settings:
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the variable and the problem
        err.print(f"[red]error:[/red] invalid C360_* setting: {exc}")
        raise typer.Exit(2) from None
    from c360.privacy.purposes import configure_purposes
    from c360.privacy.suppression import configure_key  # every import screens with it
    from c360.storage.sealing import configure_sealing  # personal data sealed at rest

    key = settings.privacy_key
    configure_key(key.get_secret_value() if key is not None else None)
    configure_sealing(settings.keyring())
    configure_purposes(settings.consent_purposes)  # checked by Settings already
    return settings


_opened: list[Engine] = []


def store_for(settings: Settings) -> Engine:
    """The migrated store, its pooled connections closed when the command ends
    (:func:`close_stores`)."""
    with reported_errors():
        engine = open_store(settings.database_url)
    _opened.append(engine)
    return engine


def close_stores() -> None:
    """Close the pooled connections of every store the command opened. A command may run
    inside a longer-lived process (tests, scripts, a notebook), where an engine left to the
    garbage collector leaks its connections; the entry point calls this as each ends."""
    while _opened:
        _opened.pop().dispose()


def progress_bar(*, transient: bool = True) -> Progress:
    """The bar long commands show on standard error: what is being done, the bar, how many of
    how many, time elapsed (``transient``: gone once finished)."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=transient,
    )
