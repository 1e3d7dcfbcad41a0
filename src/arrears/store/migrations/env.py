"""Alembic environment: runs on the connection the caller hands over (see arrears.store.db)."""

from alembic import context

from arrears.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through arrears.store.db.upgrade
    raise RuntimeError("run migrations through arrears.store.db.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
