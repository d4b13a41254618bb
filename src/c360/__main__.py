"""``python -m c360`` runs the command line."""

from c360.cli.main import app

app()
