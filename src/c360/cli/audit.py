"""``c360 audit``."""

import typer

audit_app = typer.Typer(help="audit", no_args_is_help=True)
