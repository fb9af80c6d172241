"""``okrsync login NAME``: a user signs in once for a Microsoft connection with ``login: device``.

The device-code flow (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code): msal's
message says which page to open and which code to enter; the command waits until the user has signed in
(or the code expires after 15 minutes), then keeps the refresh token in the connection's ``token_cache``
(mode 0600). Every later run renews the access token from it without asking anyone.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from okrsync.cli.app import app, console, current_config, err_console


@app.command()
def login(name: Annotated[str, typer.Argument(help="the connection to sign in for (it says login: device)")]) -> None:
    """Sign in as a user for a Microsoft connection (device code); the refresh token goes to its token_cache."""
    from okrsync.errors import SourceError
    from okrsync.registry import registry
    from okrsync.sdk.entra import EntraConnection, device_login, entra_auth, sign_in

    config = current_config()
    settings = config.connections.get(name)
    if settings is None:
        known = ", ".join(sorted(config.connections)) or "none"
        raise typer.BadParameter(f"no connection {name!r} in {config.path} (connections: {known})", param_hint="NAME")
    auth = entra_auth(registry().source(settings.type))
    if auth is None or not isinstance(settings, EntraConnection) or not settings.uses_entra():
        raise typer.BadParameter(f"connection {name!r} ({settings.type}) does not sign in with Microsoft Entra ID")
    if settings.login != "device":
        raise typer.BadParameter(
            f"connection {name!r} signs in as its app (client credentials): to sign in as a user, add "
            f"`login: device` and `token_cache: PATH` to connections.{name} (and remove its client_secret or "
            "certificate_file)",
            param_hint="NAME",
        )
    where = f"connections.{name}"
    try:
        sign = sign_in(settings, where, config.base_dir)
        who = device_login(sign, auth.scope(settings), lambda text: console.print(escape(text)))
    except SourceError as exc:
        err_console.print(f"[red]error:[/] {escape(exc.message)}")
        raise typer.Exit(1) from None
    console.print(f"[green]✓[/] signed in as {escape(who)}; the sign-in is kept in {escape(str(sign.token_cache))}")
