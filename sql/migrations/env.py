"""Alembic environment for smartcron.

Online: the caller passes an open connection in config.attributes["connection"] (see
smartcron.db.migrate.upgrade). Offline (`--sql`): DDL is rendered for the URL's dialect, which is
how sql/schema.mysql.sql is generated for DBAs.
"""

from alembic import context

from smartcron.db.schema import metadata

config = context.config

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    # render_as_batch lets later migrations ALTER tables on SQLite (copy-and-move).
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()
