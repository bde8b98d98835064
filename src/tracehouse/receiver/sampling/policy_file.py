"""The YAML policy file of `tracehouse up --sampling FILE` and `tracehouse sampling simulate FILE`.

    decision:                 # when a trace is decided (all optional)
      wait_after_root: 2s     # once its root span has arrived (a root is sent when it ends)
      max_wait: 30s           # at the latest, for traces whose root never arrives
      max_trace_spans: 10000  # a trace this large is decided at once on what has arrived
      decision_cache: 1h      # how long a decision is remembered for late spans
    policies:                 # keep a trace when any policy keeps it
      - {name: errors, error: true}
      - {name: slow, latency: {over: 500ms}}
      - {name: base, probabilistic: {percent: 5}}
    drop:                     # drop a trace when any rule matches, whatever the policies say
      - {name: health, root: {operation: "GET /healthz"}}
    remote: ...               # strategies for SDKs, see tracehouse.receiver.sampling.remote

docs/sampling.md documents every key with examples. Errors name the entry and the key at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracehouse.receiver.sampling.policies import (
    AllOf,
    AlwaysRule,
    AnyOf,
    AttributeRule,
    ErrorRule,
    LatencyRule,
    Policy,
    PolicyError,
    Probabilistic,
    RateLimit,
    RootRule,
    SpanCountRule,
)

_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
             "d": 86400 * 10**9}
KINDS = ("error", "latency", "attribute", "span_count", "root", "always", "probabilistic", "rate_limit",
         "and", "or")
_SAMPLERS = ("probabilistic", "rate_limit")
__all__ = ["PolicyError", "PolicyFile", "RemoteConfig", "RemoteService", "Timing", "load_policy_file",
           "parse_duration_ns", "parse_policy_text"]


def parse_duration_ns(value: Any, where: str) -> int:
    """'500ms', '2s', '1.5m', '1h' or a number of seconds, in nanoseconds."""
    if isinstance(value, bool):
        raise PolicyError(f"{where}: not a duration: {value!r} (examples: 500ms, 2s, 1m)")
    if isinstance(value, int | float):
        return int(value * 10**9)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*", str(value))
    if not m:
        raise PolicyError(f"{where}: not a duration: {value!r} (examples: 500ms, 2s, 1m)")
    return int(float(m.group(1)) * _UNITS_NS[m.group(2) or "s"])


@dataclass(frozen=True)
class Timing:
    wait_after_root_ns: int = 2 * 10**9
    max_wait_ns: int = 30 * 10**9
    max_trace_spans: int = 10_000
    decision_cache_ns: int = 3600 * 10**9
    tick_seconds: float = 0.5


@dataclass(frozen=True)
class RemoteService:
    probability: float | None = None
    traces_per_second: float | None = None
    operations: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteConfig:
    default_probability: float = 1.0
    services: dict[str, RemoteService] = field(default_factory=dict)
    adaptive_traces_per_second: float | None = None   # None: adaptive mode off
    adaptive_window_ns: int = 5 * 60 * 10**9
    adaptive_min_probability: float = 0.001


@dataclass
class PolicyFile:
    policies: list[Policy]
    drops: list[Policy]
    timing: Timing = field(default_factory=Timing)
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [p.name for p in (*self.policies, *self.drops)]

    @property
    def needs_attributes(self) -> bool:
        """Whether a policy looks at attribute values (the store then lists them per trace)."""
        def needs(policy: Policy) -> bool:
            if isinstance(policy, AllOf | AnyOf):
                return any(needs(p) for p in policy.parts)
            if isinstance(policy, RateLimit):
                return any(k.startswith("attribute:") for k in policy.key)
            return isinstance(policy, AttributeRule)
        return any(needs(p) for p in (*self.policies, *self.drops))


def load_policy_file(path: Path) -> PolicyFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the sampling policy file {path}: {exc.strerror}") from exc
    return parse_policy_text(text, str(path))


def parse_policy_text(text: str, source: str = "<policy>") -> PolicyFile:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: expected a mapping with `policies:` (see docs/sampling.md)")
    _no_unknown(doc, ("decision", "policies", "drop", "remote"), source)
    policies = [_policy(entry, f"{source}: policies[{i}]", i, allow_samplers=True)
                for i, entry in enumerate(_list(doc.get("policies"), f"{source}: policies"))]
    drops = [_policy(entry, f"{source}: drop[{i}]", i, allow_samplers=False, prefix="drop")
             for i, entry in enumerate(_list(doc.get("drop"), f"{source}: drop"))]
    if not policies and not doc.get("remote"):
        raise PolicyError(f"{source}: no policies: every trace would be dropped. Add `policies:` "
                          "(e.g. `- {name: all, always: true}`)")
    names = [p.name for p in (*policies, *drops)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PolicyError(f"{source}: policy names must be unique; repeated: {', '.join(repeated)}")
    return PolicyFile(policies, drops, _timing(doc.get("decision"), f"{source}: decision"),
                      _remote(doc.get("remote"), f"{source}: remote"), source)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where}: expected a list")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping")
    return value


def _no_unknown(doc: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [str(k) for k in doc if k not in known]
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}; expected: {', '.join(known)}")


def _number(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: expected a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise PolicyError(f"{where}: {value} is outside {low}..{high}")
    return float(value)


def _probability(spec: dict[str, Any], where: str) -> float:
    if ("percent" in spec) == ("probability" in spec):
        raise PolicyError(f"{where}: give exactly one of `percent` (0-100) or `probability` (0-1)")
    if "percent" in spec:
        return _number(spec["percent"], f"{where}.percent", 0, 100) / 100
    return _number(spec["probability"], f"{where}.probability", 0, 1)


def _policy(entry: Any, where: str, index: int, allow_samplers: bool, prefix: str = "policy") -> Policy:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where}: expected a mapping such as {{name: errors, error: true}}")
    kinds = [k for k in entry if k in KINDS]
    others = [str(k) for k in entry if k not in KINDS and k != "name"]
    if others:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(others)}; a policy has a name and one of "
                          f"{', '.join(KINDS)}")
    if len(kinds) != 1:
        raise PolicyError(f"{where}: give exactly one kind of policy ({', '.join(KINDS)}), got {kinds or 'none'}")
    kind = kinds[0]
    name = str(entry.get("name") or f"{prefix}-{index + 1}-{kind}")
    spec = entry[kind]
    at = f"{where} ({name}).{kind}"
    if kind in _SAMPLERS and not allow_samplers:
        raise PolicyError(f"{at}: a drop rule must match or not; `{kind}` belongs under `policies:`")
    if kind in ("and", "or"):
        parts = [_policy(p, f"{at}[{i}]", i, allow_samplers, prefix=name) for i, p in enumerate(_list(spec, at))]
        if not parts:
            raise PolicyError(f"{at}: needs at least one policy")
        return AllOf(name, parts) if kind == "and" else AnyOf(name, parts)
    if kind in ("error", "always"):
        if spec is not True:
            raise PolicyError(f"{at}: write `{kind}: true`")
        return ErrorRule(name) if kind == "error" else AlwaysRule(name)
    spec = _mapping(spec, at)
    if kind == "latency":
        _no_unknown(spec, ("over", "over_p99", "min_samples"), at)
        over = parse_duration_ns(spec["over"], f"{at}.over") if "over" in spec else None
        over_p99 = bool(spec.get("over_p99", False))
        if over is None and not over_p99:
            raise PolicyError(f"{at}: give `over: 500ms` and/or `over_p99: true`")
        return LatencyRule(name, over, over_p99, int(_number(spec.get("min_samples", 100), f"{at}.min_samples", 1)))
    if kind == "attribute":
        _no_unknown(spec, ("key", "equals", "in", "regex", "min", "max", "exists"), at)
        if not isinstance(spec.get("key"), str):
            raise PolicyError(f"{at}: `key` (the attribute name) is required")
        tests = [k for k in ("equals", "in", "regex", "exists") if k in spec] + (
            ["range"] if "min" in spec or "max" in spec else [])
        if len(tests) != 1:
            raise PolicyError(f"{at}: give exactly one of equals, in, regex, min/max, exists")
        rule = AttributeRule(name, spec["key"])
        if "equals" in spec:
            rule.values = (spec["equals"],)
        elif "in" in spec:
            rule.values = tuple(_list(spec["in"], f"{at}.in"))
        elif "regex" in spec:
            try:
                rule.regex = re.compile(str(spec["regex"]))
            except re.error as exc:
                raise PolicyError(f"{at}.regex: not a regular expression: {exc}") from exc
        elif "exists" in spec:
            rule.exists = spec["exists"] is True
            if not rule.exists:
                raise PolicyError(f"{at}: write `exists: true`")
        else:
            rule.minimum = _number(spec["min"], f"{at}.min") if "min" in spec else None
            rule.maximum = _number(spec["max"], f"{at}.max") if "max" in spec else None
        return rule
    if kind == "span_count":
        _no_unknown(spec, ("min", "max"), at)
        if "min" not in spec and "max" not in spec:
            raise PolicyError(f"{at}: give `min` and/or `max`")
        maximum = int(_number(spec["max"], f"{at}.max", 0)) if "max" in spec else None
        return SpanCountRule(name, int(_number(spec.get("min", 0), f"{at}.min", 0)), maximum)
    if kind == "root":
        _no_unknown(spec, ("service", "operation"), at)
        if not spec:
            raise PolicyError(f"{at}: give `service` and/or `operation`")
        return RootRule(name, _opt_str(spec, "service"), _opt_str(spec, "operation"))
    if kind == "probabilistic":
        _no_unknown(spec, ("percent", "probability", "service", "operation"), at)
        return Probabilistic(name, _probability(spec, at), _opt_str(spec, "service"), _opt_str(spec, "operation"))
    # rate_limit
    _no_unknown(spec, ("traces_per_second", "service", "key", "adjust_every"), at)
    if "traces_per_second" not in spec:
        raise PolicyError(f"{at}: `traces_per_second` is required")
    key = tuple(str(k) for k in _list(spec.get("key", ["operation"]), f"{at}.key"))
    for part in key:
        if part not in ("operation", "error") and not part.startswith("attribute:"):
            raise PolicyError(f"{at}.key: {part!r} is not operation, error or attribute:NAME")
    adjust = parse_duration_ns(spec.get("adjust_every", "5s"), f"{at}.adjust_every") / 1e9
    return RateLimit(name, _number(spec["traces_per_second"], f"{at}.traces_per_second", 0.001),
                     _opt_str(spec, "service"), key, max(0.1, adjust))


def _opt_str(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    return None if value is None else str(value)


def _timing(value: Any, where: str) -> Timing:
    spec = _mapping(value, where)
    _no_unknown(spec, ("wait_after_root", "max_wait", "max_trace_spans", "decision_cache", "check_every"), where)
    d = Timing()
    timing = Timing(
        wait_after_root_ns=parse_duration_ns(spec.get("wait_after_root", d.wait_after_root_ns / 1e9),
                                             f"{where}.wait_after_root"),
        max_wait_ns=parse_duration_ns(spec.get("max_wait", d.max_wait_ns / 1e9), f"{where}.max_wait"),
        max_trace_spans=int(_number(spec.get("max_trace_spans", d.max_trace_spans), f"{where}.max_trace_spans", 1)),
        decision_cache_ns=parse_duration_ns(spec.get("decision_cache", d.decision_cache_ns / 1e9),
                                            f"{where}.decision_cache"),
        tick_seconds=parse_duration_ns(spec.get("check_every", d.tick_seconds), f"{where}.check_every") / 1e9,
    )
    if timing.max_wait_ns < timing.wait_after_root_ns:
        raise PolicyError(f"{where}: max_wait must be at least wait_after_root")
    return timing


def _remote(value: Any, where: str) -> RemoteConfig:
    spec = _mapping(value, where)
    _no_unknown(spec, ("default", "services", "adaptive"), where)
    default = _mapping(spec.get("default"), f"{where}.default")
    _no_unknown(default, ("percent", "probability"), f"{where}.default")
    services: dict[str, RemoteService] = {}
    for svc, entry in _mapping(spec.get("services"), f"{where}.services").items():
        at = f"{where}.services.{svc}"
        entry = _mapping(entry, at)
        _no_unknown(entry, ("percent", "probability", "traces_per_second", "operations"), at)
        probability = _probability(entry, at) if "percent" in entry or "probability" in entry else None
        tps = (_number(entry["traces_per_second"], f"{at}.traces_per_second", 0)
               if "traces_per_second" in entry else None)
        if (probability is None) == (tps is None):
            raise PolicyError(f"{at}: give exactly one of percent/probability or traces_per_second")
        operations = {str(op): _number(p, f"{at}.operations.{op}", 0, 1)
                      for op, p in _mapping(entry.get("operations"), f"{at}.operations").items()}
        services[str(svc)] = RemoteService(probability, tps, operations)
    adaptive = _mapping(spec.get("adaptive"), f"{where}.adaptive")
    _no_unknown(adaptive, ("traces_per_second", "window", "min_probability"), f"{where}.adaptive")
    d = RemoteConfig()
    return RemoteConfig(
        default_probability=_probability(default, f"{where}.default") if default else d.default_probability,
        services=services,
        adaptive_traces_per_second=(_number(adaptive["traces_per_second"], f"{where}.adaptive.traces_per_second",
                                            0.001) if "traces_per_second" in adaptive else None),
        adaptive_window_ns=parse_duration_ns(adaptive.get("window", "5m"), f"{where}.adaptive.window"),
        adaptive_min_probability=_number(adaptive.get("min_probability", d.adaptive_min_probability),
                                         f"{where}.adaptive.min_probability", 0, 1),
    )
