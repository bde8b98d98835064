// Routes a URL to its page. Every page keeps its state in the URL, so any view can be shared.
import { mount, h } from "./dom.js";
import { searchPage } from "./search.js";
import { tracePage } from "./trace.js";
import { comparePage } from "./compare.js";
import { mapPage } from "./map.js";
import { monitorPage } from "./monitor.js";
import { samplingPage } from "./sampling.js";

function route() {
  const path = location.pathname.replace(/\/+$/, "") || "/search";
  const params = new URLSearchParams(location.search);
  let page = "search";
  let run;
  if (path === "/search" || path === "") run = () => searchPage(params);
  else if (path === "/trace") { page = "trace"; run = () => tracePage(null); }
  else if (path.startsWith("/trace/")) { page = ""; run = () => tracePage(decodeURIComponent(path.slice(7))); }
  else if (path === "/compare") { page = "compare"; run = () => comparePage(params); }
  else if (path === "/map") { page = "map"; run = () => mapPage(params); }
  else if (path === "/monitor") { page = "monitor"; run = () => monitorPage(params); }
  else if (path === "/sampling") { page = "sampling"; run = () => samplingPage(params); }
  else run = () => mount(h("p", { class: "error", text: `No page at ${path}` }));
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  run();
}

window.addEventListener("popstate", route);
route();
