"""``c360 users``."""

import typer

users_app = typer.Typer(help="users", no_args_is_help=True)
