"""Tail sampling: spans wait in the store until their trace is decided; a policy file says which
traces to keep, and every kept trace records the weight that makes counts over sampled data honest.

- `policy_file`: the YAML policy file, parsed into policies (a clear error names what is wrong).
- `traces`: what a policy looks at, one `TraceFacts` per trace, built from columns of spans.
- `decider`: keep probability per policy, one randomness per trace (its id), weight = 1 / p.
- `tail`: the backend's tail sampler (holds spans in the store, decides them on the commit thread).
- `simulate`: the same decisions replayed over stored traces (`tracehouse sampling simulate`).
- `remote`: Jaeger remote-sampling strategies for SDKs (`/api/sampling?service=`).
See docs/sampling.md and ADR 11.
"""
