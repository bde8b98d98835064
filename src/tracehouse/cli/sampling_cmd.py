"""`tracehouse sampling`: tail sampling's tools. `simulate FILE --since 1h` replays stored traces
through a policy file and reports what it would keep (through a running backend's API when one
serves the data directory, else on the store opened read-only)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import httpx

from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import resolve_target
from tracehouse.receiver.sampling.policy_file import PolicyError, load_policy_file, parse_policy_text
from tracehouse.receiver.sampling.simulate import Simulation, simulate
from tracehouse.settings import SettingError, parse_retention
from tracehouse.store import SamplingStore, StoreError


@click.group()
def sampling() -> None:
    """Tail sampling: try a policy file on stored traces before turning it on (docs/sampling.md)."""


def run_simulation(ctx: click.Context | None, policy_path: Path, since: str, data: Path | None,
                   url: str | None) -> Simulation:
    try:
        text = policy_path.read_text(encoding="utf-8")
        parse_policy_text(text, str(policy_path))
        seconds = parse_retention(since)
    except OSError as exc:
        raise click.ClickException(f"cannot read {policy_path}: {exc.strerror}") from exc
    except (PolicyError, SettingError) as exc:
        raise click.ClickException(str(exc)) from exc
    target = resolve_target(data, url)
    if target.url:
        try:
            response = httpx.post(f"{target.url}/api/sampling/simulate", json={"policy": text, "since": since},
                                  timeout=600.0)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach the backend at {target.url}: {exc}") from exc
        body = response.json()
        if response.status_code != 200:
            raise click.ClickException(str(body.get("error", f"HTTP {response.status_code}")))
        return Simulation.from_json(body)
    if ctx is None:
        raise click.ClickException("no backend is running for this data directory")
    service = runtime(ctx).open_query_service(target.settings, read_only=True)
    try:
        store = service.store
        if not isinstance(store, SamplingStore):
            raise click.ClickException("this store keeps no sampling data")
        now = time.time_ns()
        return simulate(store, load_policy_file(policy_path), now - seconds * 10**9, now)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.close()


@sampling.command("simulate")
@click.argument("policy_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--since", default="1h", show_default=True, metavar="DURATION",
              help="Replay the traces that started in the last DURATION (15m, 1h, 7d).")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")
@click.option("--url", metavar="URL", help="Ask a running backend at this address instead.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def simulate_cmd(ctx: click.Context, policy_file: Path, since: str, data: Path | None, url: str | None,
                 fmt: str) -> None:
    """Replay stored traces through POLICY_FILE: what it would keep (traces, spans, bytes, errors, slow
    traces) and what each policy decided. Nothing is changed."""
    result = run_simulation(ctx, policy_file, since, data, url)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo(f"{result.total.traces:,} stored traces of the last {since} replayed through {policy_file}:")
    for line in result.lines():
        click.echo(line)
