"""`dnsvigil serve`: the web app and its JSON API over the warehouse, under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from dnsvigil.cli.context import HomeOption, QuietOption, common, note
from dnsvigil.config import find_setting, read_int
from dnsvigil.errors import UsageError


def _setting_help(name: str) -> str:
    setting = find_setting(name)
    return f"{setting.help} [default: ${setting.env}, else {setting.default}]"


def serve(
    context: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help=_setting_help("web_host"), show_default=False)
    ] = None,
    port: Annotated[
        str | None, typer.Option("--port", help=_setting_help("web_port"), show_default=False)
    ] = None,
    home: HomeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Serve the dashboard and the JSON API over the warehouse until interrupted; it only reads data.

    The dashboard is at / (overview, traffic, findings, DGA, registration abuse, search), in Arabic,
    Chinese, English, French, Russian and Spanish (`?lang=ar`, or the browser's language). The API is at
    /api/v1/, its OpenAPI document at /api/v1/openapi.json. Open data (traffic metrics, RSSAC002, abuse
    rates, finding counts) needs no login; findings, search and DGA scoring need an API token from
    `dnsvigil users add NAME`: send it as `Authorization: Bearer TOKEN`, or paste it into /login.

    Examples: `dnsvigil serve --home demo-out/warehouse`, then open http://127.0.0.1:8000/?lang=fr, or
    `curl http://127.0.0.1:8000/api/v1/traffic/overview`.
    """
    import uvicorn

    from dnsvigil.web.app import create_app

    options = common(context, home=home, quiet=quiet)
    bind = find_setting("web_host").read(host)
    number = read_int("web_port", port, minimum=1)
    if number > 65535:
        raise UsageError(f"--port must be within 1..65535, got {number}")
    hours = float(read_int("web_session_hours", minimum=1))
    app = create_app(options.home_path, session_hours=hours)
    shown = f"[{bind}]" if ":" in bind else bind
    note(options, f"serving {options.home_path} at http://{shown}:{number}/api/v1/ (Ctrl-C stops)")
    uvicorn.run(app, host=bind, port=number, log_level="warning" if options.quiet else "info")
