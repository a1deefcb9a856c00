"""`smartcron user add|passwd|role|rm|list|token`: who may use the dashboard, with which role.

Changing a password or a role, or removing a user, ends that user's dashboard sessions on the
server at once (ops/sessions.py)."""

from __future__ import annotations

import sys

import click

from smartcron.cli.base import App, cli, pass_app
from smartcron.cli.output import table
from smartcron.db.audit import actor
from smartcron.db.engine import db_errors
from smartcron.errors import InvalidInput
from smartcron.ops import users


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("password", "", "a password on standard input (none was given)")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@cli.group()
def user() -> None:
    """Dashboard users and their roles: viewer (read), operator (run, pause, ack), admin (all).

    \b
    Example:
      smartcron user add alice --role operator
      echo 'long-secret-pass' | smartcron user add ci --role viewer --password-stdin
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--must-change-password",
    is_flag=True,
    help="A one-time password: the user must choose a new one at the first login.",
)
@pass_app
def user_add(
    app: App, name: str, role: str, password_stdin: bool, must_change_password: bool
) -> None:
    """Create dashboard user NAME. Asks for the password unless --password-stdin is given.

    \b
    Example:
      smartcron user add alice --role operator
    """
    users.check_username(name)
    password = _read_password(password_stdin)
    with db_errors(app.engine), app.engine.begin() as conn:
        users.add_user(conn, name, role, password, actor(), must_change=must_change_password)
    then = " and must choose a new password" if must_change_password else ""
    click.echo(
        f"Created user '{name}' with role {role}. They can log in to the dashboard now{then}."
    )


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def user_passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set the password of user NAME (this also unlocks the account).

    \b
    Example:
      smartcron user passwd alice
    """
    password = _read_password(password_stdin)
    with db_errors(app.engine), app.engine.begin() as conn:
        ended = users.set_password(conn, name, password, actor())
    click.echo(
        f"Password of '{name}' changed; the account is unlocked and {ended} open dashboard "
        "session(s) ended."
    )


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(users.ROLES))
@pass_app
def user_role(app: App, name: str, role: str) -> None:
    """Give user NAME another ROLE; their open sessions end (they log in again).

    \b
    Example:
      smartcron user role alice viewer
    """
    with db_errors(app.engine), app.engine.begin() as conn:
        ended = users.set_role(conn, name, role, actor())
    click.echo(f"User '{name}' is now {role}; {ended} open dashboard session(s) ended.")


@user.command("rm")
@click.argument("name")
@pass_app
def user_rm(app: App, name: str) -> None:
    """Delete user NAME and their API tokens.

    \b
    Example:
      smartcron user rm alice
    """
    with db_errors(app.engine), app.engine.begin() as conn:
        users.remove_user(conn, name, actor())
    click.echo(f"Deleted user '{name}' with their API tokens; their open sessions have ended.")


@user.command("list")
@pass_app
def user_list(app: App) -> None:
    """List dashboard users.

    \b
    Example:
      smartcron user list
    """
    with db_errors(app.engine), app.engine.connect() as conn:
        rows = users.list_users(conn)
    click.echo(
        table(
            ["USER", "ROLE", "LAST LOGIN", "LOCKED UNTIL"],
            [
                (
                    r.username,
                    r.role,
                    f"{r.last_login_at:%Y-%m-%d %H:%M} UTC" if r.last_login_at else "never",
                    f"{r.locked_until:%Y-%m-%d %H:%M} UTC" if r.locked_until else "-",
                )
                for r in rows
            ],
        )
    )


@user.command("token")
@click.argument("name")
@click.option("--label", default="api", show_default=True, help="What the token is for.")
@click.option("--revoke", is_flag=True, help="Delete all of the user's tokens instead.")
@pass_app
def user_token(app: App, name: str, label: str, revoke: bool) -> None:
    """Create an API token for user NAME (for /api/v1 and /metrics); it is shown once.

    \b
    Example:
      smartcron user token prometheus --label scraper
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/tasks
      smartcron user token prometheus --revoke
    """
    if revoke:
        with db_errors(app.engine), app.engine.begin() as conn:
            gone = users.revoke_tokens(conn, name, actor())
        click.echo(f"Revoked {gone} API token(s) of '{name}'; they stop working at once.")
        return
    with db_errors(app.engine), app.engine.begin() as conn:
        token = users.create_token(conn, name, label, actor())
    click.echo(token)
    click.echo(
        f"API token for '{name}' created; it is shown only this once. "
        "Send it as `Authorization: Bearer <token>`.",
        err=True,
    )
