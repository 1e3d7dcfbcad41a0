"""``arrears user`` and ``arrears token``: who may sign in to the console, and which
integrations may call the API. Registered on the main app by :mod:`arrears.cli`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from arrears.cli.common import _app, _errors, app, out

user_app = typer.Typer(help="Staff users of the console: add one.")
app.add_typer(user_app, name="user")
token_app = typer.Typer(help="API tokens for integrations: create (shown once) or revoke.")
app.add_typer(token_app, name="token")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="the sign-in name")],
    role: Annotated[
        str,
        typer.Option(
            help="admin, strategy_manager, supervisor, collector, field_agent, compliance or agency"
        ),
    ],
    name: Annotated[str | None, typer.Option(help="the name shown")] = None,
    agency: Annotated[str | None, typer.Option(help="an agency user's agency")] = None,
    collector_id: Annotated[str | None, typer.Option(help="the id contacts carry (工号)")] = None,
) -> None:
    """Add a staff user. The password is read from ARREARS_NEW_PASSWORD, or asked for."""
    from arrears.service.staff.users import add_user

    password = os.environ.get("ARREARS_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    a = _app()
    with _errors():
        uid = add_user(
            a,
            username=username,
            password=password,
            role=role,
            display_name=name,
            agency=agency,
            collector_id=collector_id,
        )
    out.print(f"{username}: {role} ({uid})")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="the integration, e.g. core-banking")],
    scope: Annotated[list[str], typer.Option("--scope", help="read or write; repeat")],
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from arrears.service.staff.users import create_token

    a = _app()
    with _errors():
        secret = create_token(a, name, scope)
    out.print(secret, soft_wrap=True)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="the id in arr_<id>_...")]) -> None:
    """Revoke an API token at once."""
    from arrears.service.staff.users import revoke_token

    a = _app()
    with _errors():
        revoke_token(a, token_id)
    out.print(f"{token_id}: revoked")


keys_app = typer.Typer(help="The data key: seal everything again under a new one (rotation).")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[int, typer.Option(help="rows a transaction")] = 1000,
) -> None:
    """Seal every stored personal field again under ARREARS_DATA_KEY (the old key in
    ARREARS_OLD_DATA_KEYS opens what was sealed before). Resumable: each batch commits, and a
    new run picks up what is left."""
    from arrears.cli.common import _progress
    from arrears.service.staff.keys import rotate, status

    a = _app()
    with _errors():
        left = status(a)
        with _progress() as bar:
            tasks = {name: bar.add_task(name, total=total) for name, (total, _) in left.items()}
            done = rotate(a, batch, lambda name, n: bar.advance(tasks[name], n))
        after = status(a)
    for name, n in done.items():
        out.print(f"{name}: {n:,} rows sealed again; {after[name][1]:,} left")
    if any(stale for _, stale in after.values()):
        raise typer.Exit(1)
    out.print("every row is under the current key: the old key may be removed")


@keys_app.command("status")
def keys_status() -> None:
    """How many rows of each table are still sealed under an old key (or not sealed)."""
    from arrears.service.staff.keys import status

    a = _app()
    with _errors():
        left = status(a)
    for name, (total, stale) in left.items():
        out.print(f"{name}: {total:,} rows, {stale:,} not under the current key")
