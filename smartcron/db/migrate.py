"""Schema migrations (Alembic, in sql/migrations): upgrade, revisions, and the MySQL DDL."""

from __future__ import annotations

from importlib import resources
from typing import Any

from sqlalchemy.engine import Connection, Engine

from smartcron.db.engine import db_errors
from smartcron.errors import OperationFailed

# Alembic is imported inside the functions that need it: it costs ~0.13 s at start-up, and
# only init/db upgrade use it.


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    location = resources.files("smartcron.sql") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest migration revision shipped with this version."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:  # only possible in a broken install
        raise OperationFailed("no schema migrations found; reinstall smartcron")
    return head


def known_revisions() -> set[str]:
    """Return every migration revision this version knows (head and all before it)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def revisions_before(revision: str) -> set[str]:
    """Given a revision, return every revision older than it (its ancestors)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    return {rev.revision for rev in script.iterate_revisions(revision, "base")} - {revision}


def current_revision(engine: Engine) -> str | None:
    """Return the database's migration revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with db_errors(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest schema; return (revision before, revision after)."""
    from alembic import command as alembic_command
    from alembic.runtime.migration import MigrationContext

    with db_errors(engine), engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        alembic_command.upgrade(_alembic_config(conn), "head")
    return before, head_revision()


def mysql_ddl() -> str:
    """Return the MySQL/MariaDB DDL of all migrations, as sql/schema.mysql.sql holds it."""
    import io

    from alembic import command as alembic_command
    from alembic.config import Config as AlembicConfig

    buffer = io.StringIO()
    cfg = AlembicConfig(output_buffer=buffer)
    cfg.set_main_option("script_location", str(resources.files("smartcron.sql") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", "mysql+pymysql://")
    alembic_command.upgrade(cfg, "head", sql=True)
    header = (
        "-- smartcron schema for MySQL 8 / MariaDB 10.6+, generated from the Alembic migrations.\n"
        "-- Do not edit: regenerate with `smartcron db schema > sql/schema.mysql.sql`.\n"
        "-- Prefer `smartcron db upgrade`, which applies the same migrations and records them.\n\n"
    )
    body = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
    return header + body + "\n"
