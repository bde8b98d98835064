// Runs OpenTelemetry JS's Jaeger remote sampler against a backend and prints, as JSON, how many of
// N new root spans of each operation it sampled once it has fetched its strategy.
//   node follow.mjs ENDPOINT SERVICE N OPERATION...     (ENDPOINT: http://host:port/api)
import { JaegerRemoteSampler } from "@opentelemetry/sampler-jaeger-remote";
import { AlwaysOffSampler, SamplingDecision } from "@opentelemetry/sdk-trace";
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { randomBytes } from "node:crypto";

const [endpoint, serviceName, n, ...operations] = process.argv.slice(2);
const sampler = new JaegerRemoteSampler({ endpoint, serviceName, poolingInterval: 100, initialSampler: new AlwaysOffSampler() });
// Wait until the sampler has replaced its initial one with the strategy from the backend.
const deadline = Date.now() + 20000;
while (!String(sampler).includes("sampler=ParentBased") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
const counts = {};
for (const op of operations) {
  let sampled = 0;
  for (let i = 0; i < Number(n); i++) {
    const result = sampler.shouldSample(ROOT_CONTEXT, randomBytes(16).toString("hex"), op, SpanKind.SERVER, {}, []);
    if (result.decision === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
  }
  counts[op] = sampled;
}
console.log(JSON.stringify({ sampler: String(sampler), counts }));
process.exit(0);
