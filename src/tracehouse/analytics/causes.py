"""The ranked-cause model: what doctor found, one dataclass shared by the CLI (text and JSON), the
HTTP API and the UI. The Report doctor returns carries it whole in `params["diagnosis"]`, and every
front end rebuilds it with `Diagnosis.from_json`, so they all show the same causes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where time or errors went. kind: 'service' (its own work), 'operation' (one operation's own
    work), 'edge' (between a caller's CLIENT span and the callee's SERVER span, or an uninstrumented
    callee seen only through CLIENT spans: network, queueing in the callee, the callee itself) or
    'queue' (between a PRODUCER and its CONSUMER). An edge is named by its callee: `service`; its
    caller '*' gathers the calls of every caller (network trouble at the callee's end)."""

    kind: str
    service: str
    operation: str | None = None
    caller: str | None = None

    def label(self) -> str:
        if self.kind == "edge":
            return f"{'callers' if self.caller == '*' else self.caller} → {self.service}"
        if self.kind == "queue":
            return f"{self.caller} ⇢ queue ⇢ {self.service}"
        if self.kind == "operation":
            return f"{self.service}:{self.operation}"
        return self.service


@dataclass(frozen=True)
class Segment:
    """The requests a cause is narrowed to: those whose `carried_by` service set key=value
    (a span attribute, or a resource attribute when scope is 'resource')."""

    key: str
    value: str
    carried_by: str
    scope: str
    share: float        # of the location's incident traces that have it (0..1)

    def label(self) -> str:
        return f"{self.key}={self.value} (on {self.carried_by})"


@dataclass(frozen=True)
class Effect:
    """How big the change is. Latency figures are the location's own time per request that goes
    through it; error rates are of requests through the location whose error starts there."""

    added_p50_ms: float
    added_p95_ms: float
    baseline_p50_ms: float
    incident_p50_ms: float
    baseline_p95_ms: float
    incident_p95_ms: float
    share_affected: float          # estimated share of the location's requests that changed (0..1)
    error_rate_before: float       # 0..1
    error_rate_after: float
    calls_before: float            # median calls per request (edges and operations)
    calls_after: float
    impact_ms: float               # added time per request of the whole window: the ranking key


@dataclass(frozen=True)
class Support:
    incident_traces: int           # traces through the location in the incident (in the sample)
    baseline_traces: int
    incident_total: int            # traces examined on each side
    baseline_total: int


@dataclass(frozen=True)
class Cause:
    rank: int                      # equal ranks are ties
    kind: str                      # 'slower' | 'errors' | 'repeated calls' | 'retries'
    location: Location
    segment: Segment | None
    effect: Effect
    support: Support
    test: str                      # which test gave p_value
    p_value: float                 # raw
    q_value: float                 # Benjamini-Hochberg over every hypothesis examined
    since_ns: int | None           # change point: when it started
    summary: str                   # one plain sentence
    link: str                      # a search (UI path) that shows the affected traces
    example_trace_id: str | None
    baseline_quantiles_ms: list[float] = field(default_factory=list)   # p10, p25, p50, p75, p90, p95, p99
    incident_quantiles_ms: list[float] = field(default_factory=list)
    timeline: list[list[float]] = field(default_factory=list)          # [bucket start s, p50 ms, p90 ms, traces]
    tied: bool = False             # another cause has the same rank


@dataclass
class Diagnosis:
    window_start_ns: int | None
    window_end_ns: int | None
    baseline_start_ns: int | None
    baseline_end_ns: int | None
    baseline_how: str              # said in the output: how the baseline was chosen
    causes: list[Cause]
    verdict: str                   # the first line: what stands out, or that nothing does
    looked_at: list[str]           # what was examined, when nothing (or something) stands out
    hypotheses: int                # examined, the size of the multiple-testing correction
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        causes = []
        for c in data["causes"]:
            seg = c.get("segment")
            causes.append(Cause(
                rank=c["rank"], kind=c["kind"], location=Location(**c["location"]),
                segment=Segment(**seg) if seg else None, effect=Effect(**c["effect"]),
                support=Support(**c["support"]), test=c["test"], p_value=c["p_value"], q_value=c["q_value"],
                since_ns=c["since_ns"], summary=c["summary"], link=c["link"],
                example_trace_id=c["example_trace_id"], baseline_quantiles_ms=list(c["baseline_quantiles_ms"]),
                incident_quantiles_ms=list(c["incident_quantiles_ms"]), timeline=[list(t) for t in c["timeline"]],
                tied=bool(c.get("tied", False))))
        return cls(window_start_ns=data["window_start_ns"], window_end_ns=data["window_end_ns"],
                   baseline_start_ns=data["baseline_start_ns"], baseline_end_ns=data["baseline_end_ns"],
                   baseline_how=data["baseline_how"], causes=causes, verdict=data["verdict"],
                   looked_at=list(data["looked_at"]), hypotheses=data["hypotheses"], notes=list(data["notes"]))
