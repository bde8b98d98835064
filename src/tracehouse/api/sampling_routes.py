"""Sampling over HTTP.

- GET /api/sampling?service=NAME: Jaeger's remote-sampling endpoint (the strategies JSON of
  jaeger-idl sampling.proto), from the `remote:` part of the backend's policy file (--sampling).
- GET /api/sampling/minutes?lookback=1h: what each tail-sampling policy kept and dropped per minute,
  and how many traces and spans wait for a decision (the UI's /sampling page).
- POST /api/sampling/simulate {"policy": YAML text, "since": "1h"}: the dry run of
  `tracehouse sampling simulate` against this backend's store.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from tracehouse.query.service import QueryService
from tracehouse.receiver.sampling.policy_file import (
    PolicyError,
    PolicyFile,
    RemoteConfig,
    load_policy_file,
    parse_policy_text,
)
from tracehouse.receiver.sampling.remote import RemoteSampler
from tracehouse.receiver.sampling.simulate import simulate
from tracehouse.settings import SettingError, parse_retention
from tracehouse.store import SamplingStore

MAX_LOOKBACK_SECONDS = 7 * 86400


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def router(service: QueryService) -> APIRouter:
    api = APIRouter()
    store = service.store if isinstance(service.store, SamplingStore) else None
    policy_file: PolicyFile | None = None
    if service.settings.sampling_file is not None:
        try:
            policy_file = load_policy_file(service.settings.sampling_file)
        except PolicyError:
            policy_file = None   # `tracehouse up` refuses a bad file before the API is built
    remote = RemoteSampler(policy_file.remote if policy_file else RemoteConfig(), store)

    @api.get("/api/sampling", tags=["sampling"])
    def sampling_strategy(service_name: str = Query("", alias="service")) -> JSONResponse:
        if not service_name:
            return _error(400, "'service' parameter must be provided")
        return JSONResponse(remote.strategy(service_name))

    @api.get("/api/sampling/minutes", tags=["sampling"])
    def sampling_minutes(lookback: str = "1h") -> JSONResponse:
        try:
            seconds = min(parse_retention(lookback), MAX_LOOKBACK_SECONDS)
        except SettingError as exc:
            return _error(400, f"lookback: {exc}")
        since = time.time_ns() - seconds * 10**9
        minutes = store.sampling_minutes(since) if store else []
        held = store.held_count() if store else (0, 0)
        body: dict[str, Any] = {
            "enabled": policy_file is not None and bool(policy_file.policies),
            "policies": policy_file.names if policy_file else [],
            "held_traces": held[0], "held_spans": held[1],
            "minutes": [m.__dict__ for m in minutes],
        }
        return JSONResponse(body)

    @api.post("/api/sampling/simulate", tags=["sampling"])
    def sampling_simulate(body: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        if store is None:
            return _error(400, "this store keeps no sampling data")
        try:
            policy = parse_policy_text(str(body.get("policy", "")), "policy")
            seconds = parse_retention(str(body.get("since", "1h")))
        except (PolicyError, SettingError) as exc:
            return _error(400, str(exc))
        now = time.time_ns()
        return JSONResponse(simulate(store, policy, now - seconds * 10**9, now).to_json())

    return api
