"""``c360 retention``."""

import typer

retention_app = typer.Typer(help="retention", no_args_is_help=True)
