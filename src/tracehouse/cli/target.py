"""Where a CLI command reads from: a running backend's HTTP API, or the store file itself.

A running backend holds DuckDB's lock on its file, so commands given `--data DIR` look for the
backend serving DIR (its run file, then /healthz) and go through its API; with no backend running
they open the store read-only. `--url` always goes to that backend.

A backend with a query token or TLS (docs/security.md) is reached with the token of
TRACEHOUSE_QUERY_TOKEN or TRACEHOUSE_QUERY_TOKEN_FILE, trusting the certificate of TRACEHOUSE_TLS_CERT
(for a self-signed one); for a backend found through its run file, the token file and certificate
it was started with are used when this user can read them.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from tracehouse.access import AccessConfigError, load_tokens
from tracehouse.settings import Settings, run_file


@dataclass(frozen=True)
class Target:
    url: str | None          # a running backend's query API
    settings: Settings       # data_dir is used when url is None
    http: dict[str, Any] = field(default_factory=dict)  # httpx options: the token header, the TLS trust


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_info(data_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(run_file(data_dir).read_text())
        str(info["query_url"])
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) and _pid_alive(pid) else None


# How long a command waits for a backend that is still starting (its query port answers 503).
STARTING_WAIT_SECONDS = 60.0


def running_backend_url(data_dir: Path) -> str | None:
    """The query URL of the backend serving `data_dir`, if one is running and answering."""
    info = _run_info(data_dir)
    if info is None:
        return None
    url = str(info["query_url"])
    options = http_options(Settings.from_env(), info)
    # A backend that is starting answers 503 "starting" while it opens its store (it already
    # acknowledges exports): wait for it rather than open the store file beside it.
    deadline = time.monotonic() + STARTING_WAIT_SECONDS
    while True:
        try:
            response = httpx.get(f"{url}/healthz", timeout=2.0, **options)
        except httpx.HTTPError:
            return None
        if response.status_code != 503 or time.monotonic() > deadline or not _pid_alive(int(info["pid"])):
            return url if response.status_code == 200 else None
        time.sleep(0.2)


def http_options(settings: Settings | None = None, run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """httpx keyword arguments for talking to a backend: `headers` with the query token, `verify`
    trusting the configured certificate. The environment's settings win over the run file's paths."""
    settings = settings or Settings.from_env()
    info = run_info or {}
    token_file = settings.query_token_file or (str(info.get("query_token_file") or "") if not
                                               settings.query_token else "")
    try:
        tokens = load_tokens(settings.query_token, token_file, "TRACEHOUSE_QUERY_TOKEN",
                             "TRACEHOUSE_QUERY_TOKEN_FILE")
    except AccessConfigError as exc:
        if settings.query_token_file:
            raise click.ClickException(str(exc)) from exc
        tokens = ()  # the backend's own file, unreadable to this user: go without
    options: dict[str, Any] = {}
    if tokens:
        options["headers"] = {"Authorization": f"Bearer {tokens[0]}"}
    cert = settings.tls_cert_file or str(info.get("tls_cert_file") or "")
    if cert:
        try:
            options["verify"] = ssl.create_default_context(cafile=str(Path(cert).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise click.ClickException(f"TRACEHOUSE_TLS_CERT {cert}: cannot be used: {exc}") from exc
    return options


def resolve_target(data: Path | None, url: str | None) -> Target:
    settings = Settings.from_env()
    if data is not None:
        settings = settings.with_overrides(data_dir=data)
    if url:
        return Target(url=url.rstrip("/"), settings=settings, http=http_options(settings))
    info = _run_info(settings.data_dir)
    return Target(url=running_backend_url(settings.data_dir), settings=settings,
                  http=http_options(settings, info))


def data_option() -> click.Option:
    return click.Option(["--data"], type=click.Path(path_type=Path, file_okay=False),
                        help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")


def url_option() -> click.Option:
    return click.Option(["--url"], metavar="URL",
                        help="Query a running backend at this address (e.g. http://127.0.0.1:16686).")
