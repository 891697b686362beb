// The public status page: one line per component from /v1/public/status (no token).
"use strict";

const WORDS = {
  operational: "All systems operational",
  degraded: "Some systems are degraded",
  outage: "Service outage",
};
const NAMES = {
  device_connectivity: "Device connectivity",
  ingest: "Telemetry and dashboards",
  ota: "Firmware updates",
};

async function refresh() {
  try {
    const r = await fetch("/v1/public/status", { cache: "no-store" });
    if (!r.ok) throw new Error(`status ${r.status}`);
    const s = await r.json();
    const overall = document.getElementById("overall");
    overall.textContent = WORDS[s.overall] || s.overall;
    overall.className = "overall " + s.overall;
    const list = document.getElementById("components");
    list.replaceChildren();
    for (const c of s.components) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = NAMES[c.component] || c.component;
      const state = document.createElement("span");
      state.className = "badge " + c.status;
      state.textContent = c.status[0].toUpperCase() + c.status.slice(1);
      li.append(name, state);
      list.append(li);
    }
    document.getElementById("checked").textContent =
      "Checked " + new Date(s.at * 1000).toLocaleString("en-GB") + "; refreshes every 30 seconds.";
  } catch (e) {
    document.getElementById("overall").textContent = "Status unavailable (" + e.message + ")";
  }
}
refresh();
setInterval(refresh, 30000);
