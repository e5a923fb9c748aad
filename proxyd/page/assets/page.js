// proxyd's page: polls GET /ui/api/state and draws it; buttons POST to /ui/api/... with the
// page's anti-CSRF value. Every text from the server is set as textContent, never as HTML.
"use strict";

const POLL_MS = 2000;
const BADGES = [["vision", "VISION"], ["tools", "TOOLS"], ["reasoning", "THINKING"]];
const page = {
  csrf: document.querySelector('meta[name="proxyd-page"]').content,
  token: sessionStorage.getItem("proxyd-token"),
  state: null,
  modelsDrawn: "",
  lastAdd: null,
};

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function call(method, path, body) {
  const headers = { "X-Proxyd-Page": page.csrf };
  if (page.token) headers["Authorization"] = "Bearer " + page.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) { askToken(); throw new Error("proxyd asks for its token"); }
  if (!resp.ok) {
    const err = new Error((data.error && data.error.message) || "HTTP " + resp.status);
    err.refused = resp.status === 403 && data.error && data.error.code === "role_not_allowed";
    throw err;
  }
  return data;
}

function notice(text, good) {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.className = good ? "notice good" : "notice";
  el.hidden = !text;
}

// Redrawing under someone typing would throw their text away: wait until they leave the field.
function typing(within) {
  const el = document.activeElement;
  return within.contains(el) && ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName);
}

function askToken() {
  document.getElementById("token").hidden = false;
}

async function poll() {
  try {
    page.state = await call("GET", "/ui/api/state");
    document.getElementById("token").hidden = true;
    if (document.body.classList.contains("refused")) notice("");  // the refusal was for the last token
    document.body.classList.remove("refused");
    draw();
  } catch (err) {
    if (err.refused) {  // a token whose role may not read the page: say so, and take another
      document.body.classList.add("refused");
      document.getElementById("add-open").hidden = true;
      askToken();
      notice(err.message);
      return;
    }
    if (!document.getElementById("token").hidden) return;
    notice("proxyd does not answer: " + err.message);
  }
}

function draw() {
  const s = page.state;
  const counts = {};
  for (const p of s.providers) counts[p.state] = (counts[p.state] || 0) + 1;
  document.getElementById("summary").textContent =
    Object.entries(counts).map(([k, v]) => v + " " + k).join(" · ") || "no providers";
  drawReloadFailed(s.reload_failed);
  document.getElementById("config-path").textContent = s.editable ? "editing " + s.config : s.not_editable;
  document.getElementById("add-open").disabled = !s.editable;
  document.getElementById("add-open").hidden = s.role !== "admin";  // a viewer's page is read-only
  if (!typing(document.getElementById("cards"))) drawCards(s);
  drawGroups(s.groups);
  drawModels(s);
  drawTraffic(s.traffic);
}

// A config file that did not load stays on top until one does: the running config is older than the file.
function drawReloadFailed(failed) {
  const el = document.getElementById("reload-failed");
  el.hidden = !failed;
  if (!failed) return;
  const since = new Date(failed.since * 1000).toLocaleTimeString();
  const head = "The config file did not load (since " + since + "); proxyd runs on the config it loaded before.";
  el.textContent = failed.errors ? head + "\n" + failed.errors.join("\n") : head;
}

// --- providers ---------------------------------------------------------------------------------

function drawCards(s) {
  const cards = s.providers.map((p) => card(p, s.editable));
  if (!cards.length) cards.push(h("p", { class: "muted" }, "No providers yet: Add provider, or run proxyd init."));
  document.getElementById("cards").replaceChildren(...cards);
}

function card(p, editable) {
  const wire = p.detected_wire && p.detected_wire !== p.wire ? p.wire + " → " + p.detected_wire : p.wire;
  return h("article", { class: "card", "data-provider": p.name, "data-state": p.state },
    h("div", { class: "card-head" },
      h("span", { class: "dot " + p.state, title: p.state }), h("h3", {}, p.name),
      h("span", { class: "state muted" }, p.state)),
    h("dl", {},
      h("dt", {}, "base URL"), h("dd", {}, p.base_url),
      h("dt", {}, "key"), h("dd", {}, p.key === null ? "shown to admins" : p.key),
      h("dt", {}, "wire"), h("dd", { "data-field": "wire" }, wire),
      h("dt", {}, "probe"), h("dd", { "data-field": "latency" }, p.latency_ms !== null ? p.latency_ms + " ms" : p.probed_at ? "no answer" : "not probed yet"),
      h("dt", {}, "models"), h("dd", {}, p.models.length + (p.default_model ? " (default " + p.default_model + ")" : "")),
      p.local && h("dt", {}, "server"), p.local && h("dd", { "data-field": "local" }, localLine(p.local)),
      Object.entries(p.local_models || {}).flatMap(([model, l]) => [
        h("dt", {}, model),
        h("dd", { "data-field": "local", "data-model": model }, localLine(l), " ", localButtons(p.name + "/" + model, l))])),
    sparkline(p.history),
    problem(p),
    [p.local, ...Object.values(p.local_models || {})].filter((l) => l && l.last_lines.length > 0).map((l) =>
      h("pre", { class: "last-lines", "data-field": "last-lines" }, l.last_lines.slice(-8).join("\n"))),
    testResult(p.test),
    h("div", { class: "actions" },
      page.state.can_test && h("button", { type: "button", class: "primary", "data-action": "test", onclick: () => runTest(p.name) }, "Test"),
      p.local && localButtons(p.name, p.local),
      editable && h("button", { type: "button", "data-action": "edit", onclick: (e) => editForm(e, p) }, "Edit"),
      editable && h("button", { type: "button", class: "danger", "data-action": "delete", onclick: () => remove(p.name) }, "Delete")));
}

function sparkline(history) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 300 36");
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...history.map((x) => x[1] || 0));
  history.slice(-60).forEach(([at, ms, state], i) => {
    const height = ms === null ? 36 : Math.max(2, (ms / max) * 34);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", String(i * 5));
    bar.setAttribute("y", String(36 - height));
    bar.setAttribute("width", "4");
    bar.setAttribute("height", String(height));
    bar.setAttribute("class", state);
    const tip = document.createElementNS(ns, "title");
    tip.textContent = new Date(at * 1000).toLocaleTimeString() + ": " + (ms === null ? "no answer" : ms + " ms");
    bar.append(tip);
    svg.append(bar);
  });
  return svg;
}

function problem(p) {
  if (p.state === "ok" || p.state === "unknown" || (!p.error && !p.cause)) return null;
  return h("div", { class: "problem " + p.state, "data-field": "problem" },
    h("div", {}, p.cause || p.error),
    p.fix && h("div", { class: "fix" }, "Fix: " + p.fix));
}

function testResult(t) {
  if (!t) return null;
  const when = new Date(t.at * 1000).toLocaleTimeString();
  const head = t.ok
    ? "Test at " + when + ": answered in " + t.latency_ms + " ms (" + t.wire + ", " + t.model + ")"
    : "Test at " + when + " failed: " + t.cause;
  return h("div", { class: t.ok ? "test" : "test failed", "data-field": "test" },
    h("div", {}, head),
    !t.ok && t.fix && h("div", { class: "fix muted" }, "Fix: " + t.fix),
    ...(t.notes || []).map((n) => h("div", { class: "muted" }, n)),
    t.curl && h("pre", {}, t.curl));
}

async function runTest(name) {
  notice("Testing " + name + "…", true);
  try {
    await call("POST", "/ui/api/test", { provider: name });
    notice("");
  } catch (err) { notice(err.message); }
  await poll();
}

// A local server proxyd runs: its state and since when, its load time, what it holds.
function localLine(l) {
  const parts = [l.state + " for " + Math.round(l.for_s) + " s"];
  if (l.load_s !== null) parts.push("loads in " + l.load_s.toFixed(1) + " s");
  if (l.busy) parts.push(l.busy + " in flight");
  if (l.context_window) parts.push(l.context_window + "-token context");
  if (l.idle_unload_s) parts.push("stops after " + l.idle_unload_s + " s idle");
  if (l.retry_in_s) parts.push("restart allowed in " + l.retry_in_s + " s");
  return parts.join(" · ");
}

// Start and Stop, for admins: a stopped (or crashed) server can be started, a running one stopped.
function localButtons(name, l) {
  if (!page.state.can_test) return null;
  if (["stopped", "crashed"].includes(l.state)) return h("button", { type: "button", "data-action": "start", "data-server": name, onclick: () => localServer(name, "start") }, "Start");
  if (["starting", "ready"].includes(l.state)) return h("button", { type: "button", "data-action": "stop", "data-server": name, onclick: () => localServer(name, "stop") }, "Stop");
  return null;
}

async function localServer(name, action) {
  notice((action === "start" ? "Starting " : "Stopping ") + name + "…", true);
  try {
    await call("POST", "/ui/api/local", { provider: name, action });
    notice("");
  } catch (err) { notice(err.message); }
  await poll();
}

async function remove(name) {
  if (!confirm("Take provider " + name + " out of the config?")) return;
  await change("DELETE", "/ui/api/providers/" + encodeURIComponent(name));
}

async function change(method, path, body) {
  try {
    const done = await call(method, path, body);
    notice(done.done + " in " + done.config, true);
  } catch (err) { notice(err.message); }
  await poll();
}

function editForm(event, p) {
  const at = event.target.closest(".card");
  if (at.querySelector("form")) return;
  const fields = [["base_url", p.base_url], ["default_model", p.default_model || ""]];
  const inputs = fields.map(([k, v]) => h("input", { name: k, value: v }));
  const wire = h("select", { name: "wire" }, ...["auto", "chat", "responses", "anthropic"].map(
    (w) => h("option", { value: w, selected: w === p.wire }, w)));
  const form = h("form", { class: "grid" },
    ...fields.map(([k], i) => h("label", {}, k, inputs[i])), h("label", {}, "wire", wire),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", class: "quiet", onclick: () => form.remove() }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const wanted = { base_url: inputs[0].value, default_model: inputs[1].value, wire: wire.value };
    const was = { base_url: p.base_url, default_model: p.default_model || "", wire: p.wire };
    for (const [key, value] of Object.entries(wanted)) {
      if (value !== was[key]) await change("POST", "/ui/api/set", { provider: p.name, key, value });
    }
    form.remove();
  });
  at.append(form);
  inputs[0].focus();
}

function drawGroups(groups) {
  const blocks = groups.map((g) => h("div", { class: "panel", "data-group": g.alias },
    h("h3", {}, g.alias + " ", h("span", { class: "muted" }, g.strategy + " model group")),
    h("div", { class: "targets" }, ...g.targets.map((t) => h("div", {
      class: "target", "data-target": t.target, "data-resting": t.resting_s > 0 ? "yes" : "no" },
      h("span", { class: "dot " + (t.resting_s > 0 ? "degraded" : t.provider_state) }),
      h("span", {}, t.target),
      t.resting_s > 0 && h("span", { class: "muted" }, " resting " + Math.ceil(t.resting_s) + " s (" + t.last_failure + ")"),
      t.in_flight > 0 && h("span", { class: "muted" }, " · " + t.in_flight + " in flight"))))));
  document.getElementById("groups").replaceChildren(
    ...(blocks.length ? [h("h2", {}, "Model groups"), ...blocks] : []));
}

// --- add a provider ------------------------------------------------------------------------------

function addForm() {
  const f = document.getElementById("add-form");
  const headers = {};
  for (const line of f.headers.value.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return {
    name: f.name.value.trim(), base_url: f.base_url.value.trim(), wire: f.wire.value, headers,
    key: { kind: f.key_kind.value, value: f.key_value.value },
  };
}

async function addCheck() {
  const out = document.getElementById("add-result");
  out.replaceChildren(h("p", { class: "muted" }, "Checking…"));
  let found;
  try { found = await call("POST", "/ui/api/catalog", addForm()); } catch (err) {
    out.replaceChildren(h("div", { class: "problem" }, err.message));
    return;
  }
  const boxes = found.models.map((m, i) => h("label", {},
    h("input", { type: "checkbox", value: m.id, checked: i === 0 }), " " + m.id));
  const typed = h("input", { class: "typed", placeholder: "or type model ids, comma-separated", "data-field": "typed-models" });
  out.replaceChildren(
    found.ok
      ? h("div", { class: "test" }, "GET /models answered in " + found.latency_ms + " ms with " + found.models.length + (found.models.length === 1 ? " model" : " models") + " at " + found.base_url)
      : h("div", { class: "problem" }, h("div", {}, found.cause), h("div", { class: "fix" }, "Fix: " + found.fix)),
    h("div", { class: "pick" }, ...boxes), typed,
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "add-save", onclick: () => addSave(boxes, typed) },
      found.ok ? "Add provider" : "Add it anyway")));
}

async function addSave(boxes, typed) {
  const models = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  models.push(...typed.value.split(",").map((m) => m.trim()).filter(Boolean));
  try {
    const done = await call("POST", "/ui/api/providers", { ...addForm(), models });
    notice(done.done + " in " + done.config, true);
    const f = document.getElementById("add-form");
    f.reset();
    f.hidden = true;
    document.getElementById("add-result").replaceChildren();
  } catch (err) { notice(err.message); }
  await poll();
}

// --- models --------------------------------------------------------------------------------------

function drawModels(s) {
  const section = document.getElementById("models");
  const drawn = JSON.stringify([s.editable, s.providers.map((p) => [p.name, p.models])]);
  if (drawn === page.modelsDrawn || typing(section)) return;
  page.modelsDrawn = drawn;
  const blocks = s.providers.map((p) => h("div", { "data-models-of": p.name },
    h("h2", {}, p.name),
    p.models.length ? modelTable(p, s.editable) : h("p", { class: "muted" }, "No models known yet.")));
  section.replaceChildren(...blocks);
}

function modelTable(p, editable) {
  const head = h("tr", {}, ...["model", "alias", "context window", "max output", "capabilities", "tags", "tool calls", "listed"].map(
    (t, i) => h("th", { class: i === 2 || i === 3 ? "num" : null }, t)));
  const rows = p.models.map((m) => {
    const set = (key, value) => change("POST", "/ui/api/set", { provider: p.name, model: m.id, key, value });
    const input = (cls, value, key, parse) => h("input", {
      class: cls, value: value === null ? "" : value, disabled: !editable, "aria-label": key + " of " + m.id,
      onchange: (e) => set(key, parse(e.target.value)),
    });
    const badges = BADGES.map(([cap, label]) => h("button", {
      type: "button", class: "badge", disabled: !editable, "data-capability": cap,
      "aria-pressed": m.capabilities[cap] === null ? "mixed" : String(m.capabilities[cap]),
      title: m.capabilities[cap] === null ? "unknown: click to say it can" : "click to flip",
      onclick: () => set("capabilities." + cap, m.capabilities[cap] !== true),
    }, label));
    return h("tr", { "data-model": m.id },
      h("td", {}, m.id),
      h("td", {}, input("alias", m.alias, "alias", (v) => v.trim())),
      h("td", { class: "num" }, input("window", m.context_window, "context_window", (v) => (v.trim() ? Number(v) : null)),
        m.context_window_source === "default" ? h("span", { class: "guess", title: "nobody said: the common 128k is assumed" }, "guess") : null),
      h("td", { class: "num" }, m.max_output_tokens === null ? "–" : m.max_output_tokens),
      h("td", {}, ...badges),
      h("td", {}, input("tags", m.tags.join(", "), "tags", (v) => v)),
      h("td", {}, toolHealth(m.tool_calls)),
      h("td", { class: "muted" }, m.source));
  });
  const other = p.tool_calls_other
    ? h("p", { class: "muted", "data-tool-calls-other": "" }, "Models outside the catalog: ", toolHealth(p.tool_calls_other))
    : null;
  return h("div", {}, h("table", {}, h("thead", {}, head), h("tbody", {}, ...rows)), other);
}

// What a model's recent answers say about its tool calls; the fix is in the title and below.
function toolHealth(report) {
  if (!report) return h("span", { class: "muted" }, "–");
  const tone = { well: "ok", in_text: "warn", invalid: "warn", never: "bad", unknown: "muted" }[report.verdict];
  const counts = Object.entries(report.calls).map(([k, v]) => k + " " + v).join(", ");
  return h("span", { class: "tool-health " + tone, "data-tool-verdict": report.verdict, title: report.fix || counts },
    report.says, report.fix ? h("small", { class: "tool-fix" }, report.fix) : null);
}

// --- traffic -------------------------------------------------------------------------------------

function drawTraffic(t) {
  const cell = (v, num) => h("td", { class: num ? "num" : null }, v === null || v === undefined ? "–" : v);
  const summary = Object.entries(t.by_provider).map(([name, x]) => h("tr", { "data-traffic-of": name },
    cell(name), cell(x.requests, 1), cell(x.per_minute, 1), cell((x.error_rate * 100).toFixed(1) + " %", 1),
    cell(x.p50_ms, 1), cell(x.p95_ms, 1),
    cell(x.cache_hit_ratio === null ? null : (x.cache_hit_ratio * 100).toFixed(1) + " %", 1)));
  document.getElementById("traffic-summary").replaceChildren(
    h("tr", {}, ...["provider", "requests", "per minute", "errors", "p50 ms", "p95 ms", "cache hits"].map((x, i) => h("th", { class: i ? "num" : null }, x))),
    ...(summary.length ? summary : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No requests in the last 5 minutes."))]));
  const recent = t.recent.slice(0, 300).map((r) => h("tr", {},
    cell(new Date(r.at * 1000).toLocaleTimeString()), cell(r.endpoint + (r.wire ? " → " + r.wire : "")),
    cell(r.provider), cell(r.model), h("td", { class: r.status < 400 ? "status-ok num" : "status-bad num" }, r.status),
    cell(r.ttft_ms, 1), cell(r.duration_ms, 1),
    cell(r.prompt_tokens === null ? null : r.prompt_tokens + " / " + r.completion_tokens, 1),
    cell(r.translated ? "yes" : ""), cell(r.error)));
  document.getElementById("traffic-recent").replaceChildren(
    h("tr", {}, ...["time", "wire", "provider", "model", "status", "TTFT ms", "ms", "tokens in/out", "translated", "error"].map((x) => h("th", {}, x))),
    ...recent);
}

// --- usage ---------------------------------------------------------------------------------------

const USAGE_MS = 10000;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const dollars = (v) => "$" + Number(v).toFixed(2);

async function pollUsage() {
  if (document.getElementById("usage").hidden || document.body.classList.contains("refused")) return;
  try {
    drawUsage(await call("GET", "/ui/api/usage"));
  } catch (err) {
    document.getElementById("usage-chart").replaceChildren(h("p", { class: "muted" }, "Usage is not available: " + err.message));
  }
}

function drawUsage(u) {
  if (!u.enabled) {
    document.getElementById("usage-chart").replaceChildren(h("p", { class: "muted" }, "The ledger is off (ledger.enabled: false)."));
    return;
  }
  document.getElementById("usage-total").textContent = u.total ? dollars(u.total.cost_usd) + " in " + u.total.requests + " requests" : "";
  document.getElementById("usage-chart").replaceChildren(spendChart(u.days));
  document.getElementById("usage-budgets").replaceChildren(...(u.budgets.length ? u.budgets.map(budgetBar)
    : [h("p", { class: "muted" }, "No budgets set (listen.tokens[].budget, listen.defaults.budget, providers[].budget).")]));
  document.getElementById("usage-clients").replaceChildren(...usageTable(u.clients, "client"));
  document.getElementById("usage-models").replaceChildren(...usageTable(u.models, "model"));
}

// One bar a day, scaled to the costliest day; each bar's title says the day, its cost and requests.
function spendChart(days) {
  const width = 600, height = 140, gap = 2, bar = width / days.length - gap;
  const top = Math.max(...days.map((d) => d.cost_usd), 0.01);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 16}`, class: "spend", role: "img",
    "aria-label": "spend per day" });
  days.forEach((d, i) => {
    const tall = Math.max((d.cost_usd / top) * height, d.cost_usd > 0 ? 1 : 0);
    chart.append(svg("rect", { x: i * (bar + gap), y: height - tall, width: bar, height: tall, "data-day": d.day },
      svg("title", {}, d.day + ": " + dollars(d.cost_usd) + ", " + d.requests + " requests")));
  });
  chart.append(svg("text", { x: 0, y: height + 14, class: "axis" }, days[0].day),
    svg("text", { x: width, y: height + 14, class: "axis", "text-anchor": "end" }, days[days.length - 1].day),
    svg("text", { x: 0, y: 10, class: "axis" }, "max " + dollars(top)));
  return chart;
}

function budgetBar(b) {
  const used = b.budget_usd ? b.spent_usd / b.budget_usd : 0;
  const tone = used >= 1 ? "bad" : used >= 0.8 ? "warn" : "ok";
  const fill = h("span", {});
  fill.style.width = Math.min(used * 100, 100).toFixed(1) + "%";  // CSSOM: the page's CSP allows no style attribute
  return h("div", { class: "budget", "data-budget-of": b.kind + ":" + b.name + ":" + b.period },
    h("span", {}, b.kind + " " + b.name + " · " + b.period + (b.mode === "soft" ? " (soft)" : "")),
    h("span", { class: "meter " + tone, "data-used": used.toFixed(3) }, fill),
    h("span", { class: "num" }, dollars(b.spent_usd) + " of " + dollars(b.budget_usd)));
}

function usageTable(rows, by) {
  const cell = (v, num) => h("td", { class: num ? "num" : null }, v);
  const head = h("tr", {}, ...[by, "requests", "prompt", "cached", "completion", "cost"].map((x, i) => h("th", { class: i ? "num" : null }, x)));
  if (!rows.length) return [head, h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No requests counted yet."))];
  return [head, ...rows.map((r) => h("tr", { ["data-usage-" + by]: r[by] }, cell(r[by]), cell(r.requests, 1), cell(r.prompt, 1),
    cell(r.cache_read, 1), cell(r.completion, 1), cell(r.unpriced ? dollars(r.cost_usd) + " +" + r.unpriced + " unpriced" : dollars(r.cost_usd), 1)))];
}

// --- start ---------------------------------------------------------------------------------------

function start() {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
      for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== tab.dataset.tab;
      if (tab.dataset.tab === "usage") pollUsage();
    });
  }
  document.getElementById("add-open").addEventListener("click", () => {
    document.getElementById("add-form").hidden = false;
  });
  document.getElementById("add-cancel").addEventListener("click", () => {
    document.getElementById("add-form").hidden = true;
  });
  document.getElementById("add-check").addEventListener("click", addCheck);
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    page.token = document.getElementById("token-input").value;
    sessionStorage.setItem("proxyd-token", page.token);
    poll();
  });
  poll();
  setInterval(poll, POLL_MS);
  setInterval(pollUsage, USAGE_MS);
}

start();
