"""`dnsvigil users`: who may use the web app's non-public API, with which role, by API token."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dnsvigil.cli.context import HomeOption, JsonOption, QuietOption, common, note, stdout
from dnsvigil.store.warehouse import Warehouse
from dnsvigil.web.users import Role, add_user, read_users, remove_user

app = typer.Typer(help="Web app users: add (prints the API token once), list, remove.", no_args_is_help=True)


@app.command("add")
def add(
    context: typer.Context,
    name: Annotated[str, typer.Argument(help="User name: lower-case letters, digits, '.', '_', '-'.")],
    role: Annotated[
        Role, typer.Option("--role", help="analyst: findings, search, DGA; admin: also users.")
    ] = (Role.ANALYST),
    home: HomeOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Add a user and print its API token, once: only a salted hash is kept, so a lost token means
    removing the user and adding it again.

    Example: `dnsvigil users add alice --role admin`, then
    `curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/api/v1/findings`.
    """
    options = common(context, home=home, quiet=quiet or as_json)
    warehouse = Warehouse.open(options.home_path)
    user, token = add_user(warehouse.home, name, role)
    if as_json:
        print(json.dumps({"name": user.name, "role": str(user.role), "token": token}))
        return
    note(options, f"added {user.name} ({user.role}); its API token, shown only now:")
    print(token)


@app.command("list")
def list_users(context: typer.Context, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the users, their roles and when they were added (never their tokens)."""
    options = common(context, home=home)
    users = read_users(Warehouse.open(options.home_path).home)
    if as_json:
        print(json.dumps([{"name": u.name, "role": str(u.role), "created": u.created} for u in users]))
        return
    table = Table("name", "role", "created")
    for user in users:
        table.add_row(user.name, str(user.role), user.created)
    stdout.print(table)


@app.command("remove")
def remove(
    context: typer.Context,
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    home: HomeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Remove a user: its token and sessions stop working at once, even on a running server."""
    options = common(context, home=home, quiet=quiet)
    remove_user(Warehouse.open(options.home_path).home, name)
    note(options, f"removed {name}")
