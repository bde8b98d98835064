"""Where a CLI command reads from: a running backend's HTTP API, or the store file itself.

A running backend holds DuckDB's lock on its file, so commands given `--data DIR` look for the
backend serving DIR (its run file, then /healthz) and go through its API; with no backend running
they open the store read-only. `--url` always goes to that backend.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from tracehouse.settings import Settings, run_file


@dataclass(frozen=True)
class Target:
    url: str | None          # a running backend's query API
    settings: Settings       # data_dir is used when url is None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_backend_url(data_dir: Path) -> str | None:
    """The query URL of the backend serving `data_dir`, if one is running and answering."""
    path = run_file(data_dir)
    try:
        info = json.loads(path.read_text())
        url = str(info["query_url"])
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    try:
        response = httpx.get(f"{url}/healthz", timeout=2.0)
    except httpx.HTTPError:
        return None
    return url if response.status_code == 200 else None


def resolve_target(data: Path | None, url: str | None) -> Target:
    settings = Settings.from_env()
    if data is not None:
        settings = settings.with_overrides(data_dir=data)
    if url:
        return Target(url=url.rstrip("/"), settings=settings)
    return Target(url=running_backend_url(settings.data_dir), settings=settings)


def data_option() -> click.Option:
    return click.Option(["--data"], type=click.Path(path_type=Path, file_okay=False),
                        help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")


def url_option() -> click.Option:
    return click.Option(["--url"], metavar="URL",
                        help="Query a running backend at this address (e.g. http://127.0.0.1:16686).")
