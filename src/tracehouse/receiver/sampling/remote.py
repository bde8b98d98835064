"""Remote sampling for SDKs: Jaeger's `/api/sampling?service=NAME`, in the strategies JSON of
jaeger-idl's sampling.proto (SamplingStrategyResponse), from the `remote:` part of the policy file.

    remote:
      default: {percent: 100}                   # services not listed
      services:
        hub: {percent: 20, operations: {"GET /healthz": 0.0}}
        buzzer: {traces_per_second: 5}          # RATE_LIMITING
      adaptive: {traces_per_second: 10, window: 5m}

Adaptive mode (services not listed): like Jaeger's adaptive sampling, the probability handed to a
service moves towards `traces_per_second`: the store's throughput of the service's root spans over
`window` (re-weighted by tail-sampling weights) is divided by the probability handed out before, to
estimate the real rate; the new probability is target / real, at most doubled per step (Jaeger caps
increases too, so one quiet minute does not open the flood gates) and at least `min_probability`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tracehouse.receiver.sampling.policy_file import RemoteConfig
from tracehouse.store import SamplingStore

RECOMPUTE_EVERY_NS = 10 * 10**9
MAX_INCREASE = 2.0


def probabilistic(p: float, operations: dict[str, float] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": p}}
    if operations:
        body["operationSampling"] = {
            "defaultSamplingProbability": p,
            "defaultLowerBoundTracesPerSecond": 0.0,
            "perOperationStrategies": [{"operation": op, "probabilisticSampling": {"samplingRate": q}}
                                       for op, q in sorted(operations.items())],
            "defaultUpperBoundTracesPerSecond": 0.0,
        }
    return body


def rate_limiting(traces_per_second: float) -> dict[str, Any]:
    # maxTracesPerSecond is an int32 in sampling.proto; SDKs accept whole numbers only.
    return {"strategyType": "RATE_LIMITING",
            "rateLimitingSampling": {"maxTracesPerSecond": max(0, round(traces_per_second))}}


class RemoteSampler:
    """The strategy of each service. Thread-safe (the API serves requests on several threads)."""

    def __init__(self, config: RemoteConfig, store: SamplingStore | None) -> None:
        self.config = config
        self._store = store
        self._lock = threading.Lock()
        self._handed: dict[str, float] = {}       # service -> probability handed out last (adaptive)
        self._computed_at = 0
        self._adaptive: dict[str, float] = {}

    def strategy(self, service: str, now_unix_nano: int | None = None) -> dict[str, Any]:
        listed = self.config.services.get(service)
        if listed is not None:
            if listed.traces_per_second is not None:
                return rate_limiting(listed.traces_per_second)
            assert listed.probability is not None
            return probabilistic(listed.probability, listed.operations)
        if self.config.adaptive_traces_per_second is not None and self._store is not None:
            return probabilistic(self._adaptive_probability(service, now_unix_nano or time.time_ns()))
        return probabilistic(self.config.default_probability)

    def _adaptive_probability(self, service: str, now: int) -> float:
        with self._lock:
            if now - self._computed_at >= RECOMPUTE_EVERY_NS:
                self._recompute(now)
            return self._adaptive.get(service, self._handed.get(service, self.config.default_probability))

    def _recompute(self, now: int) -> None:
        assert self._store is not None and self.config.adaptive_traces_per_second is not None
        window = self.config.adaptive_window_ns
        counts = self._store.weighted_span_counts(now - window, now)
        observed: dict[str, float] = {}
        if counts.num_rows:
            for row in counts.select(["service", "est_root_traces"]).to_pylist():
                observed[row["service"]] = observed.get(row["service"], 0.0) + float(row["est_root_traces"])
        target = self.config.adaptive_traces_per_second
        for service, traces in observed.items():
            before = self._handed.get(service, self.config.default_probability)
            real_per_second = traces / (window / 1e9) / max(before, 1e-9)
            wanted = target / real_per_second if real_per_second > 0 else 1.0
            p = min(1.0, wanted, before * MAX_INCREASE)
            p = max(self.config.adaptive_min_probability, p)
            self._adaptive[service] = p
            self._handed[service] = p
        self._computed_at = now
