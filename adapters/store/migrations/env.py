"""Alembic environment: runs on the connection handed over by adapters.store.migrate."""
from alembic import context

from adapters.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    import sqlalchemy as sa

    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
