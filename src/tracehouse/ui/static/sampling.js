// Tail sampling at a glance: what each policy kept and dropped per minute, and what waits for a decision.
import { h, mount } from "./dom.js";
import { getJSON } from "./api.js";

const LOOKBACKS = ["15m", "1h", "6h", "24h", "2d", "7d"];

function minuteText(ns) {
  const d = new Date(ns / 1e6);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function samplingPage(params) {
  const lookback = params.get("lookback") || "1h";
  const select = h("select", { id: "sampling-lookback", onchange: () => location.assign(`/sampling?lookback=${encodeURIComponent(select.value)}`) },
    LOOKBACKS.map((l) => h("option", { value: l, text: `last ${l}`, selected: l === lookback })));
  const out = h("div", { id: "sampling" }, h("p", { class: "muted", text: "Loading…" }));
  mount(h("section", { class: "page" }, h("h1", { text: "Sampling" }), h("label", {}, "Time range ", select), out));
  let data;
  try {
    data = await getJSON(`/api/sampling/minutes?lookback=${encodeURIComponent(lookback)}`);
  } catch (err) {
    out.replaceChildren(h("p", { class: "error", text: err.message }));
    return;
  }
  const status = data.enabled
    ? `Tail sampling is on (policies: ${data.policies.join(", ")}). Waiting for a decision: ${data.held_traces} traces, ${data.held_spans} spans.`
    : "Tail sampling is off: every trace received is stored (start tracehouse up with --sampling FILE).";
  const parts = [h("p", { id: "sampling-status", text: status })];
  if (!data.minutes.length) {
    parts.push(h("p", { class: "muted", text: "No sampling decisions in this time range." }));
    out.replaceChildren(...parts);
    return;
  }
  const totals = new Map();
  for (const m of data.minutes) {
    const t = totals.get(m.policy) || { kept: 0, dropped: 0, keptSpans: 0, droppedSpans: 0, weight: 0 };
    t.kept += m.kept_traces; t.dropped += m.dropped_traces; t.keptSpans += m.kept_spans; t.droppedSpans += m.dropped_spans;
    t.weight += m.kept_weight;
    totals.set(m.policy, t);
  }
  parts.push(h("h2", { text: "Per policy" }), h("table", { class: "diff", id: "sampling-policies" },
    h("thead", {}, h("tr", {}, ["Policy", "Kept traces", "Dropped traces", "Kept spans", "Dropped spans", "Kept traces stand for"].map((c) => h("th", { text: c })))),
    h("tbody", {}, [...totals.entries()].map(([policy, t]) => h("tr", { dataset: { policy } },
      h("td", { text: policy }), h("td", { class: "num", text: t.kept }), h("td", { class: "num", text: t.dropped }),
      h("td", { class: "num", text: t.keptSpans }), h("td", { class: "num", text: t.droppedSpans }),
      h("td", { class: "num", text: Math.round(t.weight) }))))));
  parts.push(h("h2", { text: "Per minute" }), h("table", { class: "diff", id: "sampling-minutes" },
    h("thead", {}, h("tr", {}, ["Minute", "Policy", "Kept traces", "Dropped traces", "Kept spans", "Dropped spans"].map((c) => h("th", { text: c })))),
    h("tbody", {}, [...data.minutes].reverse().map((m) => h("tr", {},
      h("td", { text: minuteText(m.minute_unix_nano) }), h("td", { text: m.policy }),
      h("td", { class: "num", text: m.kept_traces }), h("td", { class: "num", text: m.dropped_traces }),
      h("td", { class: "num", text: m.kept_spans }), h("td", { class: "num", text: m.dropped_spans }))))));
  out.replaceChildren(...parts);
}
