"""``c360 privacy``."""

import typer

privacy_app = typer.Typer(help="privacy", no_args_is_help=True)
