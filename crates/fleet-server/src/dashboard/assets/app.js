// The dashboard of `fleetsim serve`: polls /dashboard/api/* once a second and draws what it
// gets; its buttons call the IoT Central and IoT Hub REST APIs themselves. No build step, no
// library: plain DOM, text set with textContent only (nothing from the server becomes markup).
"use strict";

const CENTRAL_VERSION = "2022-07-31";
const HUB_VERSION = "2021-04-12";
const PAGE = 50;
const SVG = "http://www.w3.org/2000/svg";

const state = { selected: null, from: 0, history: [], overview: null, failing: false };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// ----- credentials and requests -----

const creds = {
  get central() { return sessionStorage.getItem("fleetsim.central") || ""; },
  get hub() { return sessionStorage.getItem("fleetsim.hub") || ""; },
};

function authFor(path) {
  if (path.startsWith("/api/")) return creds.central;
  if (path.startsWith("/jobs/")) return creds.hub;
  return creds.central || creds.hub;
}

async function call(method, path, body) {
  const headers = {};
  const auth = authFor(path);
  if (auth) headers["Authorization"] = auth;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!r.ok) {
    const message = (json && json.error && json.error.message) || (json && json.Message) || text || r.statusText;
    const e = new Error(`${method} ${path.split("?")[0]}: ${r.status} ${message}`);
    e.status = r.status;
    throw e;
  }
  return json;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

// ----- formatting -----

// h:mm:ss, with tenths of a second when `tenths` (an axis shorter than a minute).
function hms(ms, tenths) {
  const d = tenths ? 10 : 1;
  const u = Math.max(0, Math.round((ms / 1000) * d));
  const s = Math.floor(u / d), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const frac = tenths ? `.${u % d}` : "";
  return `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}${frac}`;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// A job of either API as the table shows it.
function jobRow(api, j) {
  if (api === "central") {
    const p = j.progress || { total: 0, pending: 0, completed: 0, failed: 0 };
    return { api, id: j.id, name: j.displayName || "", status: j.status, total: p.total,
      ok: p.completed, bad: p.failed, running: 0, pending: p.pending };
  }
  const s = j.deviceJobStatistics || {};
  return { api, id: j.jobId, name: j.type || "", status: j.status, total: s.deviceCount || 0,
    ok: s.succeededCount || 0, bad: s.failedCount || 0, running: s.runningCount || 0, pending: s.pendingCount || 0 };
}

function bar(row) {
  const pct = (n) => (row.total ? (100 * n) / row.total : 0);
  const parts = [["ok", row.ok], ["bad", row.bad], ["run", row.running]].map(([c, n]) => {
    const s = el("span", { class: c, title: `${c === "ok" ? "succeeded" : c === "bad" ? "failed" : "running"}: ${n}` });
    s.style.width = `${pct(n)}%`;
    return s;
  });
  return el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": row.total,
    "aria-valuenow": row.ok + row.bad }, ...parts);
}

// ----- the overview -----

function renderJobs(ov) {
  const rows = [...ov.centralJobs.map((j) => jobRow("central", j)), ...ov.hubJobs.map((j) => jobRow("hub", j))];
  const body = $("jobs").tBodies[0];
  body.replaceChildren(...rows.map((r) => {
    const key = `${r.api}/${r.id}`;
    const tr = el("tr", { class: "selectable" + (state.selected && state.selected.key === key ? " selected" : ""),
      "data-job": key, onclick: () => select(r) },
      el("td", { text: r.api === "central" ? "IoT Central" : "IoT Hub" }),
      el("td", { text: r.id }), el("td", { text: r.name }),
      el("td", {}, el("span", { class: `status ${r.status}`, text: r.status })),
      el("td", {}, bar(r)),
      el("td", { class: "counts", text: `${r.ok + r.bad}/${r.total} done, ${r.bad} failed` }));
    return tr;
  }));
  $("no-jobs").hidden = rows.length > 0;
  if (state.selected) {
    const now = rows.find((r) => `${r.api}/${r.id}` === state.selected.key);
    if (now) state.selected.row = now;
  }
}

function renderGroups(ov) {
  $("groups").tBodies[0].replaceChildren(...ov.groups.map((g) => el("tr", {},
    el("td", { text: g.id }), el("td", { text: g.displayName || "" }), el("td", {}, el("code", { text: g.filter })),
    el("td", { class: "members", text: g.members === null ? "filter error" : String(g.members) }))));
}

function recurrence(s) {
  const sc = s.schedule || {};
  let text = sc.recurrence || "once";
  if (sc.end && sc.end.type === "occurrences") text += `, ${sc.end.occurrences} times`;
  if (sc.end && sc.end.type === "date") text += `, until ${sc.end.date}`;
  return text;
}

function renderScheduled(ov) {
  $("scheduled").tBodies[0].replaceChildren(...ov.scheduledJobs.map((s) => el("tr", {},
    el("td", { text: s.id }), el("td", { text: s.displayName || "" }), el("td", { text: recurrence(s) }),
    el("td", { text: s.completed ? "completed" : s.enabled ? "yes" : "no" }),
    el("td", { text: String(s.runs) + (s.activeRun ? ` (${s.activeRun} active)` : "") }),
    el("td", { class: "next" }, ...(s.next.length ? s.next.map((t) => el("div", { text: when(t) })) : [el("span", { class: "muted", text: "none" })])))));
}

function gauge(value, max) {
  const inner = el("span");
  inner.style.width = `${max ? Math.min(100, (100 * value) / max) : 0}%`;
  return el("span", { class: "gauge", title: `${value.toFixed(1)} of ${max}` }, inner);
}

function renderHub(ov) {
  const hub = ov.hub;
  if (!hub.modelled) {
    $("hub").replaceChildren(el("p", { class: "muted", text: "No hub model in this scenario: nothing is throttled." }));
    return;
  }
  const rows = hub.buckets.map((b) => el("tr", { "data-throttle": b.throttle },
    el("td", { text: b.throttle.replaceAll("_", " ") }), el("td", { text: `${b.rate_per_s}/s` }),
    el("td", {}, gauge(b.available_tokens, b.burst), ` ${b.available_tokens.toFixed(0)} of ${b.burst}`),
    el("td", { class: "queued", text: b.queued_operations.toFixed(0) })));
  const cj = hub.concurrentJobs;
  $("hub").replaceChildren(
    el("table", {}, el("thead", {}, el("tr", {}, ...["Token bucket", "Rate", "Tokens available", "Operations queued"].map((t) => el("th", { text: t })))),
      el("tbody", {}, ...rows)),
    el("p", { id: "hub-jobs", text: `Concurrent jobs: ${cj.running} running of ${cj.limit}, ${cj.waiting} waiting. ` +
      `Operations throttled (429) so far: ${hub.throttledOperations}.` }));
}

// ----- the selected job -----

function select(row) {
  state.selected = { key: `${row.api}/${row.id}`, api: row.api, id: row.id, row };
  state.from = 0;
  state.history = [];
  $("rerun-id").value = `${row.id}-rerun`;
  $("action-result").textContent = "";
  refresh();
}

function renderActions(row) {
  const central = row.api === "central";
  $("stop").hidden = !central; $("resume").hidden = !central;
  $("rerun").hidden = !central; $("rerun-id").hidden = !central;
  $("cancel").hidden = central;
  $("stop").disabled = row.status !== "running";
  $("resume").disabled = row.status !== "stopped";
  $("rerun").disabled = !(["complete", "completed", "cancelled"].includes(row.status)) || row.bad === 0;
  $("cancel").disabled = !["queued", "scheduled", "running", "enqueued"].includes(row.status);
}

function summary(detail) {
  const parts = [`${detail.batches.length} batch${detail.batches.length === 1 ? "" : "es"}`];
  if (detail.started) parts.push(`started ${when(detail.started)}`);
  if (detail.finished) parts.push(`finished ${when(detail.finished)}`);
  const t = detail.threshold;
  if (t) parts.push(`cancellation threshold: ${t.limit} failure${t.limit === 1 ? "" : "s"} ${t.perBatch ? "per batch" : "in the job"}`);
  if (detail.trip) parts.push(`threshold tripped in batch ${detail.trip.batch} at ${when(detail.trip.at)} (${detail.trip.failures} failures)`);
  const reasons = Object.entries(detail.failureReasons || {});
  if (reasons.length) parts.push("failures by reason: " + reasons.map(([r, n]) => `${r} ${n}`).join(", "));
  return parts.join(" · ");
}

// The batches on a time axis (h:mm:ss since the job started): each batch a bar from its first
// dispatch to its last answer, green and red by its results; the batch that tripped the
// threshold outlined in red with the instant marked.
function timeline(detail, nowIso) {
  const started = detail.batches.filter((b) => b.start);
  if (!started.length) return el("p", { class: "muted", text: "No batch has started yet." });
  const t0 = Date.parse(started[0].start);
  const now = Date.parse(nowIso);
  const endOf = (b) => (b.end ? Date.parse(b.end) : Math.max(now, Date.parse(b.start)));
  const t1 = Math.max(t0 + 1000, ...started.map(endOf), detail.trip ? Date.parse(detail.trip.at) : 0);
  const W = 900, left = 70, right = 20, rowH = 18, top = 10;
  const H = top + detail.batches.length * rowH + 30;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "batches over time" });
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5, xi = x(t);
    svg.append(el("svg:line", { x1: xi, x2: xi, y1: top, y2: H - 22, stroke: "#eaeef2" }),
      el("svg:text", { x: xi, y: H - 8, "text-anchor": i === 5 ? "end" : "middle", fill: "#57606a", text: hms(t - t0, t1 - t0 < 60000) }));
  }
  detail.batches.forEach((b, i) => {
    const y = top + i * rowH;
    svg.append(el("svg:text", { x: left - 8, y: y + 12, "text-anchor": "end", fill: "#1f2328", text: `batch ${b.number}` }));
    if (!b.start) return;
    const x0 = x(Date.parse(b.start)), x1 = Math.max(x0 + 2, x(endOf(b)));
    const done = b.succeeded + b.failed + b.cancelled || 1;
    const okW = ((x1 - x0) * b.succeeded) / done, badW = ((x1 - x0) * b.failed) / done;
    const tripped = detail.trip && detail.trip.batch === b.number;
    const g = el("svg:g", { class: tripped ? "trip" : "batch", "data-batch": b.number },
      el("svg:title", { text: `batch ${b.number}: ${b.size} devices, ${b.succeeded} succeeded, ${b.failed} failed, ${b.cancelled} cancelled; ${hms(Date.parse(b.start) - t0)} to ${b.end ? hms(Date.parse(b.end) - t0) : "now"}` }),
      el("svg:rect", { x: x0, y: y + 2, width: x1 - x0, height: rowH - 5, fill: "#eaeef2" }),
      el("svg:rect", { x: x0, y: y + 2, width: okW, height: rowH - 5, fill: "#1a7f37" }),
      el("svg:rect", { x: x0 + okW, y: y + 2, width: badW, height: rowH - 5, fill: "#c62828" }));
    if (tripped) g.append(el("svg:rect", { x: x0 - 1, y: y + 1, width: x1 - x0 + 2, height: rowH - 3, fill: "none", stroke: "#c62828", "stroke-width": 2 }));
    svg.append(g);
  });
  if (detail.trip) {
    const xt = x(Date.parse(detail.trip.at));
    svg.append(el("svg:line", { x1: xt, x2: xt, y1: top, y2: H - 22, stroke: "#c62828", "stroke-dasharray": "4 3" }),
      el("svg:text", { x: Math.min(xt + 4, W - 200), y: top + 10, fill: "#c62828", text: `threshold tripped (${detail.trip.failures} ≥ ${detail.trip.limit})` }));
  }
  return svg;
}

function renderDevices(page) {
  $("devices").tBodies[0].replaceChildren(...page.items.map((d) => el("tr", { "data-device": d.id },
    el("td", { text: d.id }), el("td", { text: d.state.replace("_", " ") }),
    el("td", { text: d.reason || "" }), el("td", { text: String(d.attempts) }))));
  const last = state.from + page.items.length;
  $("page").textContent = page.matched ? `${page.items.length ? state.history.length * PAGE + 1 : 0}–${state.history.length * PAGE + page.items.length} of ${page.matched} matching (${page.total} targets)` : "no device matches";
  $("prev").disabled = state.history.length === 0;
  $("next").disabled = page.next === null || page.next === undefined;
  state.next = page.next;
  return last;
}

async function refreshJob(ov) {
  const sel = state.selected;
  $("job").hidden = !sel;
  if (!sel) return;
  const base = `/dashboard/api/jobs/${sel.api}/${encodeURIComponent(sel.id)}`;
  const q = new URLSearchParams({ from: state.from, limit: PAGE });
  if ($("device-state").value) q.set("state", $("device-state").value);
  if ($("device-id").value) q.set("id", $("device-id").value);
  const [detail, page] = await Promise.all([call("GET", base), call("GET", `${base}/devices?${q}`)]);
  $("job-title").textContent = sel.id;
  $("job-status").textContent = detail.status;
  $("job-status").className = `status ${sel.row.status}`;
  renderActions(sel.row);
  $("job-summary").textContent = summary(detail);
  $("timeline").replaceChildren(timeline(detail, ov.now));
  renderDevices(page);
}

async function refresh() {
  try {
    const ov = await call("GET", "/dashboard/api/overview");
    state.overview = ov;
    $("clock").textContent = `virtual time ${when(ov.now)} · ${ov.devices} devices · time scale ${ov.timeScale}×`;
    renderJobs(ov); renderGroups(ov); renderScheduled(ov); renderHub(ov);
    await refreshJob(ov);
    if (state.failing) showError("");
    state.failing = false;
  } catch (e) {
    state.failing = true;
    if (e.status === 401) $("credentials").hidden = false;
    showError(e.message);
  }
}

async function act(method, path, label) {
  $("action-result").textContent = `${label}…`;
  try {
    await call(method, path);
    $("action-result").textContent = `${label}: done`;
  } catch (e) {
    $("action-result").textContent = "";
    showError(e.message);
  }
  refresh();
}

function wire() {
  const job = () => encodeURIComponent(state.selected.id);
  $("stop").onclick = () => act("POST", `/api/jobs/${job()}/stop?api-version=${CENTRAL_VERSION}`, "stop");
  $("resume").onclick = () => act("POST", `/api/jobs/${job()}/resume?api-version=${CENTRAL_VERSION}`, "resume");
  $("rerun").onclick = () => act("PUT", `/api/jobs/${job()}/rerun/${encodeURIComponent($("rerun-id").value)}?api-version=${CENTRAL_VERSION}`, "rerun");
  $("cancel").onclick = () => act("POST", `/jobs/v2/${job()}/cancel?api-version=${HUB_VERSION}`, "cancel");
  $("next").onclick = () => { state.history.push(state.from); state.from = state.next; refresh(); };
  $("prev").onclick = () => { state.from = state.history.pop() || 0; refresh(); };
  $("device-filter").onsubmit = (e) => { e.preventDefault(); state.from = 0; state.history = []; refresh(); };
  $("credentials-toggle").onclick = () => { $("credentials").hidden = !$("credentials").hidden; };
  $("central-token").value = creds.central;
  $("hub-token").value = creds.hub;
  $("credentials-form").onsubmit = (e) => {
    e.preventDefault();
    sessionStorage.setItem("fleetsim.central", $("central-token").value.trim());
    sessionStorage.setItem("fleetsim.hub", $("hub-token").value.trim());
    $("credentials").hidden = true;
    refresh();
  };
}

wire();
refresh();
setInterval(refresh, 1000);
