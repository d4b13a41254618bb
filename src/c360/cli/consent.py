"""``c360 consent``."""

import typer

consent_app = typer.Typer(help="consent", no_args_is_help=True)
