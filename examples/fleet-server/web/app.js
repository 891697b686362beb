// The fleet-ops operator dashboard: one page, views chosen by the URL fragment, data from the
// JSON API with the token the operator typed (kept in sessionStorage). Every view re-reads its
// data every few seconds, so a running rollout moves on screen without a reload.
(() => {
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "fleet-ops-token";
const { barChart, thresholdChart, sparkRows, fmtNumber } = window.charts;

let role = null; // {role, can_command} from /v1/whoami
let timer = null;
let renderSeq = 0;
const liveSeries = new Map(); // rollout/gate -> [{t, v}] seen by this page
let holdRefreshUntil = 0; // while an operator is confirming an abort, the page stays still

// ---------- small helpers ----------

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function pct(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return (x * 100).toFixed(digits === undefined ? 1 : digits).replace(/\.0+$/, "") + "%";
}

function when(unix) {
  if (!unix) return "–";
  const d = new Date(unix * 1000);
  return d.toLocaleDateString("en-GB") + " " + d.toLocaleTimeString("en-GB");
}

function ago(unix) {
  if (!unix) return "";
  const s = Math.max(0, Math.round(Date.now() / 1000 - unix));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function words(snake) {
  const s = String(snake || "").replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// The only key of a serde enum object ({"Pause": {...}} -> ["Pause", {...}]).
function variant(v) {
  if (v === null || v === undefined) return [null, null];
  if (typeof v === "string") return [v, null];
  const k = Object.keys(v)[0];
  return [k, v[k]];
}

function table(headers, rows, cls) {
  return h("table", { class: cls || "grid-table" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

function card(title, ...body) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...body);
}

function kpi(label, value, cls) {
  return h("div", { class: "kpi " + (cls || "") }, h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label));
}

function badge(text, cls) {
  return h("span", { class: "badge " + (cls || text) }, text);
}

// ---------- API ----------

class AuthError extends Error {}

async function api(path, options) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new AuthError("no token");
  const o = Object.assign({ headers: {} }, options || {});
  o.headers = Object.assign({ Authorization: "Bearer " + token }, o.headers);
  const r = await fetch(path, o);
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new AuthError(body.error || "token refused");
  }
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.error || ""}`);
  return body;
}

async function command(id, name, version) {
  return api(`/v1/rollouts/${id}/${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ expected_version: version }),
  });
}

// ---------- rollout vocabulary: plain words for the policy's terms ----------

const PHASE_WORDS = {
  pending: "waiting for its first stage",
  running: "running",
  paused: "paused, waiting for an operator",
  aborted: "aborted and rolled back",
  completed: "completed",
};

function stageSize(size) {
  const [k, v] = variant(size);
  if (k === "Devices") return `${fmtNumber(v)} device${v === 1 ? "" : "s"}`;
  if (k === "Percent") return `${fmtNumber(v / 100)}% of the fleet`;
  return JSON.stringify(size);
}

function gateName(gate) {
  const [k, v] = variant(gate.kind);
  switch (k) {
    case "FailureRatio": return `failure ratio (limit ${fmtNumber(v.max_bp / 100)}%)`;
    case "FailureVsControl": return `failures against the old version (detects ${fmtNumber(v.max_ratio_pct / 100)}x)`;
    case "FailureVsControlPerStage": return "failures against the old version, per stage";
    case "CrashRateVsControl": return `crash rate against the old version (detects ${fmtNumber(v.max_ratio_pct / 100)}x)`;
    case "Tripwire": return `bricked devices (at most ${v.max})`;
    default: return words(k);
  }
}

const VERDICT_WORDS = {
  Pass: "passes",
  Deferred: "is judged when the stage ends",
  Insufficient: "needs more data",
  Uncertain: "is uncertain",
  Fail: "fails",
};

const STATISTIC_WORDS = {
  FailureRatio: "Wilson lower bound of the failure rate",
  FailureVsControl: "likelihood ratio for the regression",
  FailureVsControlPerStage: "p-value against the old version",
  CrashRateVsControl: "likelihood ratio for the regression",
  Tripwire: "bricked devices",
};

function rate(events, samples) {
  return samples > 0 ? events / samples : null;
}

// One sentence with the gate's numbers, the way an operator would say it.
function gateSentence(g) {
  const [k] = variant(g.gate.kind);
  const cand = rate(g.events, g.samples);
  const ctrl = rate(g.control_events, g.control_samples);
  const control = g.control === "NotUsed" ? "" : g.control === "Missing"
    ? "; the old version has no comparable data yet"
    : `, against ${fmtNumber(g.control_events)} of ${fmtNumber(g.control_samples)} (${pct(ctrl)}) on the ${g.control === "Baseline" ? "stated baseline" : "old version"}`;
  let what;
  switch (k) {
    case "CrashRateVsControl":
      what = `${fmtNumber(g.events)} crashes in ${fmtNumber(g.samples)} device-hours${control}`;
      break;
    case "Tripwire":
      what = `${fmtNumber(g.events)} bricked or boot-looping devices`;
      break;
    default:
      what = `${fmtNumber(g.events)} of ${fmtNumber(g.samples)} updated devices failed (${pct(cand)})${control}`;
  }
  let tail = `: the gate ${VERDICT_WORDS[g.verdict] || g.verdict}`;
  if (g.verdict === "Insufficient" && (g.samples_needed || g.control_needed)) {
    const need = [];
    if (g.samples_needed) need.push(`${fmtNumber(g.samples_needed)} more from the new version`);
    if (g.control_needed) need.push(`${fmtNumber(g.control_needed)} more from the old`);
    tail += ` (${need.join(", ")})`;
  }
  return what + tail + ".";
}

function reasonSentence(reason, gates, fallback) {
  const [k, v] = variant(reason);
  const gate = v && v.gate !== undefined ? (gates || []).find((g) => g.index === v.gate) : null;
  const gateText = gate ? ` gate ${gate.index + 1}, ${gateName(gate.gate)}: ${gateSentence(gate)}` : "";
  switch (k) {
    case "GateUncertain": return "the evidence is not clear enough to go on;" + gateText;
    case "GateFailed": return "the evidence shows a regression;" + gateText;
    case "Operator": return "an operator asked for it.";
    default: return words(k) + (gateText ? ";" + gateText : "") + (fallback ? "" : "");
  }
}

// A decision-log row in plain words.
function decisionSentence(d, plan) {
  const n = plan && plan.stages ? plan.stages.length : "?";
  const dec = d.decision || {};
  const [k, v] = variant(dec.action);
  if (d.source === "operator" || !dec.action) {
    const who = d.source === "operator" ? "An operator" : words(d.source);
    switch (d.action) {
      case "create": return d.explanation.charAt(0).toUpperCase() + d.explanation.slice(1) + ".";
      case "pause": return `${who} paused the rollout.`;
      case "resume": return `${who} resumed the rollout.`;
      case "abort": return `${who} aborted the rollout; devices are sent the previous release again.`;
      default: return `${who}: ${d.action}.`;
    }
  }
  switch (k) {
    case "Advance":
      return `Opened stage ${v.stage + 1} of ${n}: ${fmtNumber(v.target_devices)} devices in all (cohort buckets below ${fmtNumber(v.threshold_bp / 100)}%).`;
    case "Complete": return "Completed: the last stage passed every gate.";
    case "Pause": return "Paused: " + reasonSentence(v.reason, dec.gates);
    case "Abort": return "Aborted and rolled back: " + reasonSentence(v.reason, dec.gates);
    case "Hold": return `Holding: waiting for ${words(variant(v.missing)[0]).toLowerCase()}.`;
    default: return d.explanation;
  }
}

// Devices the open stages hold: the target of the latest Advance.
function stageTarget(decisions) {
  for (const d of decisions.slice().reverse()) {
    const [k, v] = variant(d.decision && d.decision.action);
    if (k === "Advance") return v.target_devices;
  }
  return 0;
}

function currentStage(state) {
  const [k, v] = variant(state.phase);
  return v && v.stage !== undefined ? v.stage : k === "Completed" ? null : null;
}

// ---------- views ----------

async function viewOverview() {
  const [fleet, status] = await Promise.all([api("/v1/fleet"), api("/v1/status")]);
  const f = fleet.fleet || { devices: 0, online: 0, offline: 0, unseen: 0 };
  const series = [
    { name: "online", cls: "bar-ok" },
    { name: "offline", cls: "bar-bad" },
    { name: "never reported", cls: "bar-muted" },
  ];
  const name = (cut, v) => (cut === "firmware" && v === "0.0.0" ? "not reported" : v || "(none)");
  const rows = (cut) => (fleet.by[cut] || []).map((g) => ({ label: name(cut, g.value), values: [g.online, g.offline, g.unseen] }));
  const active = (status.rollouts || []).filter((r) => ["pending", "running", "paused"].includes(r.phase));
  return [
    h("h1", {}, "Fleet"),
    h("div", { class: "kpis" },
      kpi("provisioned devices", fmtNumber(f.devices)),
      kpi("online", fmtNumber(f.online), "ok"),
      kpi("offline", fmtNumber(f.offline), f.offline ? "bad" : ""),
      kpi("never reported", fmtNumber(f.unseen), "muted"),
      kpi("rollouts in progress", fmtNumber(active.length))),
    active.length ? card("Rollouts in progress", h("ul", { class: "plain" }, active.map((r) =>
      h("li", {}, h("a", { href: `#/rollouts/${r.id}` }, `Rollout ${r.id}: ${r.version}`), " — ", PHASE_WORDS[r.phase] || r.phase,
        `, cohort threshold ${fmtNumber(r.threshold_bp / 100)}%`)))) : null,
    h("div", { class: "two" },
      card("Firmware versions", barChart(rows("firmware"), series, { axis: "devices" })),
      card("Hardware revisions", barChart(rows("hardware"), series, { axis: "devices" }))),
    card("Regions", table(["region", "devices", "online", "offline", "median battery", "median signal"],
      (fleet.by.region || []).map((g) => [g.value || "(none)", fmtNumber(g.devices), fmtNumber(g.online), fmtNumber(g.offline),
        g.battery_median === null ? "–" : Math.round(g.battery_median) + "%", g.rssi_median === null ? "–" : fmtNumber(g.rssi_median) + " dBm"]))),
    card("Service",
      h("p", {}, `Database ${status.service.database}, broker ${status.service.broker}, started ${ago(status.service.started_at)}. `,
        `${fmtNumber(status.ingest.heartbeats_stored)} heartbeats stored since start; ${fmtNumber(status.ingest.undecodable)} undecodable frames; `,
        `${fmtNumber(status.ingest.unknown_sender_messages)} messages from unprovisioned ids.`)),
  ];
}

async function viewRollouts() {
  const [list, releases] = await Promise.all([api("/v1/rollouts"), api("/v1/releases")]);
  const version = Object.fromEntries((releases.releases || []).map((r) => [r.id, r.version]));
  const rows = (list.rollouts || []).map((r) => {
    const stage = currentStage(r.state);
    return [
      h("a", { href: `#/rollouts/${r.id}`, class: "rollout-link", "data-id": r.id }, `Rollout ${r.id}`),
      `${version[r.previous_id] || r.previous_id} → ${version[r.release_id] || r.release_id}`,
      badge(r.phase),
      stage === null ? "–" : `${stage + 1} of ${r.plan.stages.length}`,
      `${fmtNumber(r.state.threshold_bp / 100)}%`,
      ago(r.updated_at),
    ];
  });
  return [
    h("h1", {}, "Rollouts"),
    rows.length ? card(null, table(["rollout", "versions", "phase", "stage", "cohort threshold", "last change"], rows))
      : card(null, h("p", { class: "empty" }, "No rollout yet. Start one with POST /v1/rollouts (see /openapi.json).")),
  ];
}

function gatePlot(gate, points) {
  const lines = [
    { v: gate.pause_at, name: "pause", cls: "pause" },
    { v: gate.fail_at, name: "abort", cls: "abort" },
  ];
  const [k] = variant(gate.gate.kind);
  return thresholdChart(points, lines, { axis: STATISTIC_WORDS[k] || "statistic" });
}

function gateCards(gates) {
  const now = gates.now.gates || [];
  if (!now.length) {
    return [h("p", { class: "empty" }, gates.phase === "completed" || gates.phase === "aborted"
      ? "The rollout has ended; the decision log below holds each gate's last numbers."
      : "No gate is evaluated yet (the first stage has not opened).")];
  }
  return now.map((g) => {
    // The statistic at each recorded decision, the latest hold, and now.
    const points = [];
    for (const d of gates.history) {
      const x = (d.gates || []).find((y) => y.index === g.index);
      if (x) points.push({ t: d.at, v: x.statistic, note: d.action });
    }
    if (gates.last_hold) {
      const x = (gates.last_hold.gates || []).find((y) => y.index === g.index);
      if (x) points.push({ t: gates.last_hold.at, v: x.statistic, note: "hold" });
    }
    // What this page saw at each refresh, so the plot grows while the rollout runs.
    const key = `${gates.rollout}/${g.index}`;
    const seen = liveSeries.get(key) || [];
    if (!seen.length || seen[seen.length - 1].t !== gates.at) seen.push({ t: gates.at, v: g.statistic, note: "seen" });
    if (seen.length > 600) seen.shift();
    liveSeries.set(key, seen);
    for (const p of seen.slice(0, -1)) if (!points.some((q) => q.t === p.t)) points.push(p);
    points.push({ t: gates.at, v: g.statistic, note: "now" });
    points.sort((a, b) => a.t - b.t);
    const [k] = variant(g.gate.kind);
    return h("section", { class: "card gate", "data-gate": g.index },
      h("h3", {}, `Gate ${g.index + 1}: ${gateName(g.gate)} `, badge(g.verdict.toLowerCase(), "verdict-" + g.verdict.toLowerCase()),
        g.gate.mode === "DryRun" ? badge("dry run", "muted") : null),
      h("p", {}, gateSentence(g)),
      h("div", { class: "gate-body" },
        gatePlot(g, points),
        h("dl", { class: "numbers" },
          h("dt", {}, "new version"), h("dd", {}, `${fmtNumber(g.events)} / ${fmtNumber(g.samples)} (${pct(rate(g.events, g.samples))})`),
          h("dt", {}, "control"), h("dd", {}, g.control === "NotUsed" ? "not compared" : `${fmtNumber(g.control_events)} / ${fmtNumber(g.control_samples)} (${pct(rate(g.control_events, g.control_samples))}, ${words(g.control).toLowerCase()})`),
          h("dt", {}, STATISTIC_WORDS[k] || "statistic"), h("dd", {}, fmtNumber(g.statistic)),
          h("dt", {}, "pause at"), h("dd", {}, fmtNumber(g.pause_at)),
          h("dt", {}, "abort at"), h("dd", {}, fmtNumber(g.fail_at)))));
  });
}

function actionButtons(row) {
  if (!role || !role.can_command) return null;
  const box = h("div", { class: "actions", id: "actions" });
  const msg = h("span", { class: "action-msg", id: "action-msg", role: "status" });
  const run = (name) => async () => {
    holdRefreshUntil = 0;
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await command(row.id, name, row.version);
      msg.textContent = `${words(name)} sent.`;
    } catch (e) {
      msg.textContent = `${words(name)} refused: ${e.message}`;
    }
    render();
  };
  const active = ["pending", "running", "paused"].includes(row.phase);
  if (!active) return null;
  if (row.phase === "paused") box.append(h("button", { id: "resume", class: "primary", onclick: run("resume") }, "Resume"));
  else box.append(h("button", { id: "pause", onclick: run("pause") }, "Pause"));
  const confirmAbort = h("button", { id: "abort-confirm", class: "danger", hidden: true, onclick: run("abort") }, "Confirm abort and roll back");
  box.append(h("button", { id: "abort", class: "danger-outline", onclick: () => { confirmAbort.hidden = false; holdRefreshUntil = Date.now() + 15000; } }, "Abort…"), confirmAbort, msg);
  return box;
}

async function viewRollout(id) {
  const [r, gates, log, releases] = await Promise.all([
    api(`/v1/rollouts/${id}`), api(`/v1/rollouts/${id}/gates`), api(`/v1/rollouts/${id}/decisions`), api("/v1/releases"),
  ]);
  const row = r.rollout;
  const ev = r.evidence;
  const version = Object.fromEntries((releases.releases || []).map((x) => [x.id, x.version]));
  const stage = currentStage(row.state);
  const stages = row.plan.stages.map((s, i) => h("li", {
    class: stage === null ? (row.phase === "completed" ? "done" : "") : i < stage ? "done" : i === stage ? "current" : "",
  }, h("strong", {}, `Stage ${i + 1}`), h("span", {}, stageSize(s.size)), h("span", { class: "muted" }, `soak ${fmtNumber(s.soak_secs)} s`)));
  const failed = Object.values(ev.rollout.failed || {}).reduce((a, b) => a + b, 0);
  const pending = Math.max(0, ev.rollout.offered - ev.rollout.succeeded - failed);
  return [
    h("h1", {}, `Rollout ${row.id}: ${version[row.previous_id] || row.previous_id} → ${version[row.release_id] || row.release_id} `, badge(row.phase)),
    h("p", { class: "lead", id: "phase-words" }, `This rollout is ${PHASE_WORDS[row.phase] || row.phase}` +
      (stage !== null ? `, in stage ${stage + 1} of ${row.plan.stages.length}` : "") + "."),
    actionButtons(row),
    h("div", { class: "kpis" },
      kpi("devices in open stages", fmtNumber(stageTarget(log.decisions))),
      kpi("cohort threshold", `${fmtNumber(row.state.threshold_bp / 100)}%`, "muted"),
      kpi("eligible devices", fmtNumber(ev.eligible)),
      kpi("offered so far", fmtNumber(ev.rollout.offered)),
      kpi("updated", fmtNumber(ev.rollout.succeeded), "ok"),
      kpi("failed", fmtNumber(failed), failed ? "bad" : ""),
      kpi("not reported yet", fmtNumber(pending), "muted")),
    card("Stages", h("ol", { class: "stages" }, stages),
      h("p", { class: "muted", id: "arithmetic" }, `${fmtNumber(ev.eligible)} eligible = ${fmtNumber(ev.rollout.offered)} offered + ${fmtNumber(Math.max(0, ev.eligible - ev.rollout.offered))} not offered yet; ` +
        `${fmtNumber(ev.rollout.offered)} offered = ${fmtNumber(ev.rollout.succeeded)} updated + ${fmtNumber(failed)} failed + ${fmtNumber(pending)} not reported yet. ` +
        "A device is offered the release at its next check-in once its cohort bucket is in an open stage.")),
    h("h2", {}, "Gates: the evidence against the pause and abort levels"),
    h("div", { class: "gates" }, gateCards(gates)),
    h("details", { class: "card" }, h("summary", {}, "What the policy would decide now, with all its arithmetic"), h("p", { class: "mono" }, gates.now.explanation)),
    card("Decision log",
      table(["when", "what happened", "state"], log.decisions.slice().reverse().map((d) => [
        when(d.at),
        h("div", {}, h("p", { class: "decision" }, decisionSentence(d, row.plan)),
          h("details", {}, h("summary", {}, "numbers"), h("p", { class: "mono" }, d.explanation),
            d.evidence ? h("pre", {}, JSON.stringify({ stage: d.evidence.stage, rollout: d.evidence.rollout, control: d.evidence.control }, null, 1)) : null)),
        `v${d.state_version}`,
      ]), "grid-table log")),
    r.directive ? card("Rollback", h("p", {}, `Devices on the new release are sent release ${r.directive.reissue_release_id || "?"} again under manifest sequence ${r.directive.sequence ?? "?"}, so anti-rollback still holds.`)) : null,
  ];
}

const ACTION_WORDS = {
  page_on_call: "Page the on-call engineer",
  open_ticket: "Open a ticket",
  pause_rollouts: "Pause the rollouts",
  notify: "Notify the team",
};

async function viewAlerts() {
  const a = await api("/v1/alerts");
  const rules = a.rules.map((r) => [
    h("strong", {}, r.name),
    badge(r.state, "alert-" + r.state),
    badge(r.rule.severity, "sev-" + r.rule.severity),
    h("div", {}, h("strong", { class: "playbook-action" }, ACTION_WORDS[r.rule.action] || words(r.rule.action)), h("p", { class: "muted" }, r.rule.runbook || "")),
    r.since ? `${when(r.since)} (${ago(r.since)})` : "–",
  ]);
  const events = (a.events || []).map((e) => [when(e.at), e.rule || e.name || "", e.kind || e.event || "", e.value === undefined ? "" : fmtNumber(e.value)]);
  const firing = a.rules.filter((r) => r.state === "firing").length;
  return [
    h("h1", {}, "Alerts"),
    h("div", { class: "kpis" }, kpi("rules firing", fmtNumber(firing), firing ? "bad" : "ok"), kpi("rules", fmtNumber(a.rules.length))),
    card("Rules and what to do when they fire", table(["rule", "state", "severity", "playbook action", "since"], rules)),
    card("Recent events", events.length ? table(["when", "rule", "event", "value"], events) : h("p", { class: "empty" }, "No alert has fired or cleared yet.")),
  ];
}

async function viewBattery() {
  const b = await api("/v1/fleet/battery");
  const charge = (b.charge || []).map((g) => ({ label: `${g.firmware} on ${g.hardware}`, values: [g.median_percent] }));
  const drain = b.groups.map((g) => ({ label: `${g.firmware} on ${g.hardware}`, values: [g.median_per_day] }));
  return [
    h("h1", {}, "Battery"),
    h("div", { class: "two" },
      card("Drain by firmware and hardware",
        drain.length ? barChart(drain, [{ name: "points per day", cls: "bar-primary" }], { axis: "median drain, percentage points per day", integer: false })
          : h("p", { class: "empty" }, `No device has a drain estimate yet: a discharge segment needs ${b.min_segment_hours} hours of readings (${fmtNumber(b.devices_with_rate)} devices have one).`)),
      card("Charge now by firmware and hardware",
        charge.length ? barChart(charge, [{ name: "percent", cls: "bar-ok" }], { axis: "median charge, percent", unit: "%", max: 100 })
          : h("p", { class: "empty" }, "No device has reported its battery yet."))),
    card("Faster than their cohort",
      b.anomalies.length ? table(["what", "hardware", "drain per day", "cohort median"], b.anomalies.map((x) => [
        x.kind === "device" ? `device ${x.device}` : `firmware ${x.firmware} (${x.devices} devices)`, x.hardware, fmtNumber(x.rate_per_day), fmtNumber(x.cohort_median)]))
        : h("p", { class: "empty" }, `Nothing drains ${b.policy.factor}x faster than the median of its hardware (cohorts of ${b.policy.min_cohort}+ devices).`)),
  ];
}

// "hardware C and lot 3": a value that already names its attribute is not repeated.
function attrWords(attributes) {
  return attributes.map(([k, v]) => (String(v).startsWith(k) ? v : `${k} ${v}`)).join(" and ");
}

async function viewFailures() {
  const f = await api("/v1/fleet/failures");
  // Only what stands out: failures, and a rate above the rest's at the analysis' confidence.
  const significant = f.findings.filter((x) => x.failures > 0 && x.z_score >= f.config.z);
  const rows = significant.map((x) => [
    attrWords(x.attributes),
    fmtNumber(x.units),
    fmtNumber(x.failures),
    pct(x.rate),
    `${pct(x.ci_low)} – ${pct(x.ci_high)}`,
    pct(x.rest_rate),
    fmtNumber(x.z_score),
  ]);
  return [
    h("h1", {}, "Field failures"),
    h("div", { class: "kpis" }, kpi("devices analysed", fmtNumber(f.units)), kpi("with a fault reboot", fmtNumber(f.failed), f.failed ? "bad" : "ok")),
    card("Where failures cluster",
      h("p", { class: "muted" }, "Attribute values (and pairs) that fail more often than the rest of the fleet (z at least " + f.config.z + "), ranked by the lower bound of their 95% Wilson interval, so 3 failures in 3 devices does not outrank 80 in 1,600. A device failed when it had a watchdog, brown-out or fault reboot."),
      rows.length ? table(["devices with", "devices", "failed", "rate", "95% interval", "rate of the rest", "z"], rows)
        : h("p", { class: "empty" }, `No attribute value fails significantly more than the rest (${fmtNumber(f.units)} devices, ${fmtNumber(f.failed)} failed; a value needs ${f.config.min_units} devices to be judged).`)),
    f.findings.length ? h("details", { class: "card" }, h("summary", {}, `All ${f.findings.length} groups analysed`),
      table(["devices with", "devices", "failed", "95% interval", "z"], f.findings.map((x) => [
        attrWords(x.attributes), fmtNumber(x.units), fmtNumber(x.failures), `${pct(x.ci_low)} – ${pct(x.ci_high)}`, fmtNumber(x.z_score)]))) : null,
  ];
}

async function viewTickets() {
  const t = await api("/v1/tickets/trends");
  const rows = t.trends.map((x) => [
    h("strong", {}, x.tag), fmtNumber(x.current), fmtNumber(x.previous),
    x.rising ? badge("rising", "bad") : badge("steady", "muted"),
    Object.entries(x.by_firmware).map(([f, n]) => `${f}: ${n}`).join(", "),
    x.since_firmware ? `mostly ${x.since_firmware} and later` : "–",
  ]);
  return [
    h("h1", {}, "Support tickets by tag"),
    card(`This ${t.window_days} days against the ${t.window_days} before (devices, not tickets)`,
      rows.length ? table(["tag", "this window", "previous", "trend", "by firmware", "concentrated on"], rows) : h("p", { class: "empty" }, "No tickets in the last two windows.")),
    card("Tickets per day", Object.keys(t.daily).length ? sparkRows(Object.entries(t.daily), t.first_day_unix) : h("p", { class: "empty" }, "No tickets.")),
  ];
}

// ---------- shell ----------

const VIEWS = [
  [/^#\/overview$/, "overview", () => viewOverview()],
  [/^#\/rollouts$/, "rollouts", () => viewRollouts()],
  [/^#\/rollouts\/(\d+)$/, "rollouts", (m) => viewRollout(m[1])],
  [/^#\/alerts$/, "alerts", () => viewAlerts()],
  [/^#\/battery$/, "battery", () => viewBattery()],
  [/^#\/failures$/, "failures", () => viewFailures()],
  [/^#\/tickets$/, "tickets", () => viewTickets()],
];

function showLogin(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("view").replaceChildren();
  document.getElementById("who").textContent = "";
  document.getElementById("login-error").textContent = message || "";
  document.body.dataset.ready = "login";
}

async function render() {
  const seq = ++renderSeq;
  const hash = location.hash || "#/overview";
  const found = VIEWS.map(([re, nav, f]) => [hash.match(re), nav, f]).find(([m]) => m);
  const view = document.getElementById("view");
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  try {
    if (!role) role = await api("/v1/whoami");
    document.getElementById("who").textContent = role.can_command ? "operator" : "read-only";
    document.getElementById("login").hidden = true;
    if (!found) {
      view.replaceChildren(card("Not found", h("p", {}, "No such page. "), h("a", { href: "#/overview" }, "Back to the fleet")));
      return;
    }
    const [m, nav, f] = found;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === nav);
    const content = await f(m);
    if (seq !== renderSeq) return; // a newer render started meanwhile
    // Keep open <details> open across refreshes.
    const open = [...view.querySelectorAll("details")].map((d) => d.open);
    const msg = document.getElementById("action-msg");
    const keepMsg = msg ? msg.textContent : "";
    view.replaceChildren(...content.filter(Boolean));
    [...view.querySelectorAll("details")].forEach((d, i) => { if (open[i]) d.open = true; });
    const newMsg = document.getElementById("action-msg");
    if (newMsg && keepMsg) newMsg.textContent = keepMsg;
    document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}; refreshes every ${REFRESH_MS / 1000} s.`;
    document.body.dataset.ready = nav;
  } catch (e) {
    if (e instanceof AuthError) {
      role = null;
      return showLogin(e.message === "no token" ? "" : `Signed out: ${e.message}.`);
    }
    view.replaceChildren(card("Could not load this page", h("p", { class: "error" }, e.message)));
    document.body.dataset.ready = "error";
  }
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = document.getElementById("token").value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  document.getElementById("token").value = "";
  role = null;
  render();
});

window.addEventListener("hashchange", () => render());
render();
timer = setInterval(() => { if (Date.now() >= holdRefreshUntil) render(); }, REFRESH_MS);
})();
