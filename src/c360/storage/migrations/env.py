"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context

from c360.storage.tables import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    context.run_migrations()
