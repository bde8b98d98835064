// Compare two traces: the merged call tree with each call marked added, removed, slower, faster
// or the same, and the same by service and operation.
import { h, mount } from "./dom.js";
import { getJSON } from "./api.js";
import { duration, serviceColour } from "./format.js";

const LABELS = { added: "added", removed: "removed", slower: "slower", faster: "faster", same: "same" };

export async function comparePage(params) {
  const a = h("input", { name: "a", id: "compare-a", placeholder: "trace id A (baseline)", value: params.get("a") || "", size: 34 });
  const b = h("input", { name: "b", id: "compare-b", placeholder: "trace id B", value: params.get("b") || "", size: 34 });
  const form = h("form", { class: "compare-form" }, a, " vs ", b, h("button", { type: "submit", text: "Compare" }));
  const out = h("div", { id: "compare-result" });
  mount(h("section", { class: "page" }, h("h1", { text: "Compare two traces" }), form, out));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.assign(`/compare?a=${encodeURIComponent(a.value.trim())}&b=${encodeURIComponent(b.value.trim())}`);
  });
  if (!params.get("a") || !params.get("b")) {
    out.append(h("p", { class: "muted", text: "Pick two traces on the search page (tick two results), or paste two trace ids." }));
    return;
  }
  let diff;
  try {
    diff = await getJSON(`/api/compare?a=${encodeURIComponent(params.get("a"))}&b=${encodeURIComponent(params.get("b"))}`);
  } catch (err) {
    out.append(h("p", { class: "error", text: err.message }));
    return;
  }
  const t = diff.totals;
  out.append(
    h("p", { class: "legend", id: "compare-totals" },
      Object.keys(LABELS).map((k) => h("span", { class: `chip change-${k}`, text: `${t[k]} ${LABELS[k]}` }))),
    h("p", { class: "muted" },
      "A ", h("a", { href: `/trace/${diff.a.traceId}`, text: diff.a.traceId }), ` (${diff.a.spans} spans) → B `,
      h("a", { href: `/trace/${diff.b.traceId}`, text: diff.b.traceId }), ` (${diff.b.spans} spans)`),
    h("h2", { text: "Call tree" }),
    h("table", { class: "diff", id: "compare-tree" },
      h("thead", {}, h("tr", {}, h("th", { text: "Service: operation" }), h("th", { text: "A" }), h("th", { text: "B" }),
        h("th", { text: "Δ" }), h("th", { text: "Change" }))),
      h("tbody", {}, diff.rows.map((r) => {
        const name = h("td", { class: "name" }, h("span", { class: "svc", text: r.service }), h("span", { class: "op", text: r.operation }));
        name.style.paddingLeft = `${6 + Math.min(r.depth, 40) * 14}px`;
        name.querySelector(".svc").style.borderLeftColor = serviceColour(r.service);
        const delta = r.a && r.b ? r.b.duration - r.a.duration : null;
        return h("tr", { class: `change-${r.change}`, dataset: { change: r.change } }, name,
          h("td", { class: r.a?.error ? "num error" : "num", text: r.a ? duration(r.a.duration) : "—" }),
          h("td", { class: r.b?.error ? "num error" : "num", text: r.b ? duration(r.b.duration) : "—" }),
          h("td", { class: "num", text: delta === null ? "" : `${delta > 0 ? "+" : ""}${duration(delta)}` }),
          h("td", { text: LABELS[r.change] }));
      }))),
    h("h2", { text: "By service and operation" }),
    h("table", { class: "diff", id: "compare-ops" },
      h("thead", {}, h("tr", {}, ["Service", "Operation", "Calls A", "Calls B", "Time A", "Time B", "Added", "Removed", "Slower", "Faster"]
        .map((c) => h("th", { text: c })))),
      h("tbody", {}, diff.byOperation.map((o) => h("tr", {},
        h("td", { text: o.service }), h("td", { text: o.operation }),
        h("td", { class: "num", text: o.countA }), h("td", { class: "num", text: o.countB }),
        h("td", { class: "num", text: duration(o.durationA) }), h("td", { class: "num", text: duration(o.durationB) }),
        h("td", { class: "num", text: o.added }), h("td", { class: "num", text: o.removed }),
        h("td", { class: "num", text: o.slower }), h("td", { class: "num", text: o.faster }))))));
}
