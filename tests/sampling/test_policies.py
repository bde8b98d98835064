"""Each policy type against generated traces: kept and dropped as specified; composites, drop rules,
weights; re-weighted counts within statistical error of the truth; clear errors for bad files."""

from __future__ import annotations

import math
import random

import pytest

from tracehouse.receiver.sampling.decider import Decider, kept_at, randomness, threshold_hex
from tracehouse.receiver.sampling.policy_file import PolicyError, parse_policy_text
from tracehouse.receiver.sampling.traces import facts_of

from .generated import GenTrace, facts_table, gen_trace

NOW = 1_700_000_100_000_000_000


def decide_all(policy: str, traces: list[GenTrace], step_ns: int = 0) -> dict[bytes, tuple[bool, float, str]]:
    decider = Decider(parse_policy_text(policy))
    out = {}
    for i, facts in enumerate(facts_of(facts_table(traces))):
        d = decider.decide(facts, NOW + i * step_ns)
        out[facts.trace_id] = (d.kept, d.weight, d.policy)
    return out


def kept_ids(decisions: dict[bytes, tuple[bool, float, str]]) -> set[bytes]:
    return {tid for tid, (kept, _, _) in decisions.items() if kept}


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


def test_error_policy_keeps_exactly_the_traces_with_an_error(rng: random.Random) -> None:
    errors = [gen_trace(rng, error=True, spans=rng.randrange(1, 30)) for _ in range(50)]
    fine = [gen_trace(rng, spans=rng.randrange(1, 30)) for _ in range(200)]
    decisions = decide_all("policies: [{name: errors, error: true}]", errors + fine)
    assert kept_ids(decisions) == {t.trace_id for t in errors}
    assert all(w == 1.0 for tid, (k, w, _) in decisions.items() if k)
    assert {p for k, _, p in decisions.values() if not k} == {"(no policy)"}


def test_latency_over_a_duration(rng: random.Random) -> None:
    slow = [gen_trace(rng, duration_ms=rng.uniform(501, 5000)) for _ in range(40)]
    quick = [gen_trace(rng, duration_ms=rng.uniform(1, 499)) for _ in range(160)]
    decisions = decide_all("policies: [{name: slow, latency: {over: 500ms}}]", slow + quick)
    assert kept_ids(decisions) == {t.trace_id for t in slow}


def test_latency_over_the_current_p99_of_the_root_operation(rng: random.Random) -> None:
    # 400 ordinary requests of one operation (10-20 ms), then outliers at 200 ms; another operation
    # is slow all the time (150 ms) and so is not an outlier of its own p99.
    ordinary = [gen_trace(rng, root_service="checkout", root_operation="POST /pay",
                          duration_ms=rng.uniform(10, 20)) for _ in range(400)]
    always_slow = [gen_trace(rng, root_service="search", root_operation="GET /q",
                             duration_ms=rng.uniform(140, 160)) for _ in range(400)]
    outliers = [gen_trace(rng, root_service="checkout", root_operation="POST /pay", duration_ms=200)
                for _ in range(3)]
    mixed = [t for pair in zip(ordinary, always_slow, strict=True) for t in pair]
    decisions = decide_all("policies: [{name: p99, latency: {over_p99: true, min_samples: 100}}]", mixed + outliers)
    kept = kept_ids(decisions)
    assert {t.trace_id for t in outliers} <= kept
    # Above p99 of its own operation: about 1% of ordinary traffic once warmed up, never the warm-up.
    assert len(kept - {t.trace_id for t in outliers}) <= 0.03 * len(mixed)
    assert not kept & {t.trace_id for t in mixed[:200]}


@pytest.mark.parametrize(("rule", "matching"), [
    ("{key: tenant, equals: acme}", {"tenant": "acme"}),
    ("{key: tenant, in: [acme, globex]}", {"tenant": "globex"}),
    ("{key: user.email, regex: '@example\\.org$'}", {"user.email": "ann@example.org"}),
    ("{key: http.response.status_code, min: 500, max: 599}", {"http.response.status_code": 503}),
    ("{key: debug.forced, exists: true}", {"debug.forced": False}),
])
def test_attribute_policies(rng: random.Random, rule: str, matching: dict[str, object]) -> None:
    hits = [gen_trace(rng, attributes=matching) for _ in range(30)]
    near = {"tenant": "acme-corp", "user.email": "ann@example.org.evil", "http.response.status_code": 499}
    misses = [gen_trace(rng, attributes=near) for _ in range(30)] + [gen_trace(rng) for _ in range(60)]
    decisions = decide_all(f"policies: [{{name: attr, attribute: {rule}}}]", hits + misses)
    assert kept_ids(decisions) == {t.trace_id for t in hits}


def test_attribute_policies_see_resource_attributes(rng: random.Random) -> None:
    traces = [gen_trace(rng) for _ in range(50)]
    decisions = decide_all("policies: [{name: host, attribute: {key: host.name, equals: h1}}]", traces)
    expected = {t.trace_id for t in traces if any('"host.name":"h1"' in r["resource_attributes"] for r in t.rows)}
    assert expected and kept_ids(decisions) == expected


def test_span_count(rng: random.Random) -> None:
    traces = [gen_trace(rng, spans=n) for n in range(1, 60)]
    decisions = decide_all("policies: [{name: big, span_count: {min: 20, max: 40}}]", traces)
    assert kept_ids(decisions) == {t.trace_id for t in traces if 20 <= len(t.rows) <= 40}


def test_probabilistic_per_service_keeps_its_share_with_weights(rng: random.Random) -> None:
    cart = [gen_trace(rng, root_service="cart") for _ in range(4000)]
    other = [gen_trace(rng, root_service="auth") for _ in range(1000)]
    decisions = decide_all("policies: [{name: cart10, probabilistic: {percent: 10, service: cart}}]", cart + other)
    kept = kept_ids(decisions)
    assert not kept & {t.trace_id for t in other}
    n = len(kept)
    assert abs(n - 400) < 4 * math.sqrt(4000 * 0.1 * 0.9), n
    assert all(abs(decisions[t][1] - 10.0) < 1e-9 for t in kept)


def test_probabilistic_per_operation(rng: random.Random) -> None:
    a = [gen_trace(rng, root_operation="GET /a") for _ in range(2000)]
    b = [gen_trace(rng, root_operation="GET /b") for _ in range(2000)]
    decisions = decide_all("policies: [{name: a, probabilistic: {probability: 0.5, operation: GET /a}}]", a + b)
    kept = kept_ids(decisions)
    assert not kept & {t.trace_id for t in b}
    assert 850 < len(kept) < 1150


def test_rate_limit_is_dynamic_per_service_and_weights_add_up(rng: random.Random) -> None:
    # 200 traces/s of "search" over 60 s (a busy key and a rare one), 5 traces/s of "auth";
    # the limit is 20 traces/s per service.
    traces, times = [], []
    for second in range(60):
        for k in range(200):
            op = "GET /rare" if k % 50 == 0 else "GET /busy"
            traces.append(gen_trace(rng, root_service="search", root_operation=op, spans=1))
            times.append(second * 10**9 + k * 5_000_000)
        for k in range(5):
            traces.append(gen_trace(rng, root_service="auth", spans=1))
            times.append(second * 10**9 + k * 200_000_000 + 1)
    order = sorted(range(len(traces)), key=times.__getitem__)
    decider = Decider(parse_policy_text("policies: [{name: rl, rate_limit: {traces_per_second: 20}}]"))
    facts = {f.trace_id: f for f in facts_of(facts_table(traces))}
    kept_after_warmup = {"search": 0, "auth": 0}
    weight = {"search": 0.0, "auth": 0.0}
    truth = {"search": 0, "auth": 0}
    rare_kept = 0
    for i in order:
        f = facts[traces[i].trace_id]
        d = decider.decide(f, NOW + times[i])
        if times[i] >= 10 * 10**9:
            truth[f.root_service] += 1
            if d.kept:
                kept_after_warmup[f.root_service] += 1
                weight[f.root_service] += d.weight
                rare_kept += f.root_operation == "GET /rare"
    seconds = 50
    assert kept_after_warmup["auth"] == truth["auth"]          # under the limit: all kept
    assert 0.5 * 20 * seconds < kept_after_warmup["search"] < 1.5 * 20 * seconds
    assert rare_kept > 0.5 * truth["search"] / 50               # the rare key keeps most of its traces
    for service in ("search", "auth"):                          # Horvitz-Thompson: weights add up
        assert abs(weight[service] - truth[service]) < 0.1 * truth[service], (service, weight, truth)


def test_and_or_composites(rng: random.Random) -> None:
    pay_err = [gen_trace(rng, error=True, root_service="payments") for _ in range(20)]
    pay_ok = [gen_trace(rng, root_service="payments") for _ in range(20)]
    cart_err = [gen_trace(rng, error=True, root_service="cart") for _ in range(20)]
    big = [gen_trace(rng, spans=40, root_service="auth") for _ in range(20)]
    policy = """
policies:
  - name: payment-errors-or-big
    or:
      - and: [{error: true}, {root: {service: payments}}]
      - span_count: {min: 30}
"""
    decisions = decide_all(policy, pay_err + pay_ok + cart_err + big)
    assert kept_ids(decisions) == {t.trace_id for t in pay_err + big}


def test_drop_rules_win_over_policies(rng: random.Random) -> None:
    health = [gen_trace(rng, error=True, root_operation="GET /healthz") for _ in range(30)]
    errors = [gen_trace(rng, error=True) for _ in range(30)]
    policy = """
policies: [{name: errors, error: true}]
drop: [{name: health, root: {operation: GET /healthz}}]
"""
    decisions = decide_all(policy, health + errors)
    assert kept_ids(decisions) == {t.trace_id for t in errors}
    assert {decisions[t.trace_id][2] for t in health} == {"health"}


def test_deterministic_rule_and_sampler_combine_to_the_highest_probability(rng: random.Random) -> None:
    errors = [gen_trace(rng, error=True) for _ in range(300)]
    rest = [gen_trace(rng) for _ in range(3000)]
    policy = "policies: [{name: errors, error: true}, {name: base, probabilistic: {percent: 5}}]"
    decisions = decide_all(policy, errors + rest)
    assert all(decisions[t.trace_id][:2] == (True, 1.0) for t in errors)
    kept_rest = [t for t in rest if decisions[t.trace_id][0]]
    assert all(decisions[t.trace_id][1:] == (20.0, "base") for t in kept_rest)
    assert abs(len(kept_rest) - 150) < 4 * math.sqrt(3000 * 0.05 * 0.95)


def test_reweighted_counts_are_within_statistical_error_of_the_truth() -> None:
    # 20,000 traces, 3% errors and 10% slow; keep errors, slow and 5% of the rest. The estimated
    # number of requests (sum of weights) and of requests per service must match the truth within
    # 4 standard errors of the Horvitz-Thompson estimator.
    rng = random.Random(99)
    traces = []
    for _ in range(20_000):
        traces.append(gen_trace(rng, spans=1, error=rng.random() < 0.03,
                                duration_ms=800 if rng.random() < 0.1 else 20,
                                root_service=rng.choice(("cart", "search", "auth"))))
    policy = """
policies:
  - {name: errors, error: true}
  - {name: slow, latency: {over: 500ms}}
  - {name: base, probabilistic: {percent: 5}}
"""
    decisions = decide_all(policy, traces)
    service_of = {t.trace_id: t.rows[0]["service_name"] for t in traces}
    for service in ("cart", "search", "auth"):
        ids = [tid for tid, s in service_of.items() if s == service]
        truth = len(ids)
        estimate = sum(decisions[t][1] for t in ids if decisions[t][0])
        sampled_part = sum(1 for t in ids if decisions[t][1] in (0.0, 20.0))   # traces left to the 5%
        stderr = math.sqrt(sampled_part * (1 - 0.05) / 0.05)
        assert abs(estimate - truth) < 4 * stderr, (service, estimate, truth, stderr)
    kept = sum(1 for k, _, _ in decisions.values() if k)
    assert kept < 0.2 * len(traces)


def test_randomness_and_threshold_follow_the_opentelemetry_convention() -> None:
    tid = bytes.fromhex("00112233445566778" + "0" + "000000000000ff")[:16]
    assert randomness(tid) == int.from_bytes(tid[9:], "big")
    assert threshold_hex(1.0) == "0"
    assert threshold_hex(0.5) == "8"
    assert threshold_hex(0.25) == "c"
    assert kept_at(bytes(9) + b"\x80" + bytes(6), 0.5) and not kept_at(bytes(9) + b"\x7f" + b"\xff" * 6, 0.5)


@pytest.mark.parametrize(("text", "message"), [
    ("policies: [{name: x, eror: true}]", "unknown key(s) eror"),
    ("policies: [{name: x, latency: {over: fast}}]", "not a duration: 'fast'"),
    ("policies: [{name: x, probabilistic: {percent: 150}}]", "150 is outside 0..100"),
    ("policies: [{name: x, attribute: {key: a, regex: '('}}]", "not a regular expression"),
    ("policies: [{name: x, error: true}, {name: x, always: true}]", "repeated: x"),
    ("drop: [{name: d, probabilistic: {percent: 5}}]\npolicies: [{always: true}]", "a drop rule must match or not"),
    ("policies: []", "no policies"),
    ("decision: {max_wait: 1s, wait_after_root: 5s}\npolicies: [{always: true}]", "max_wait must be at least"),
    ("[1, 2", "not valid YAML"),
])
def test_bad_policy_files_get_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy_text(text, "p.yaml")
    assert message in str(info.value)
    assert "p.yaml" in str(info.value)
