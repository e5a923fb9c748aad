// proxyd's page: polls GET /ui/api/state and draws it; buttons POST to /ui/api/... with the
// page's anti-CSRF value. Every text from the server is set as textContent, never as HTML.
"use strict";

const POLL_MS = 2000;
const BADGES = ["vision", "tools", "reasoning"];  // their labels: badge.CAPABILITY
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
  if (resp.status === 401) { askToken(); throw new Error(t("token.title")); }
  if (!resp.ok) {
    const err = new Error(refusal(data.error, resp.status));
    err.refused = resp.status === 403 && data.error && data.error.code === "role_not_allowed";
    throw err;
  }
  return data;
}

// proxyd's refusal in the page's language: the error's code says which (the API's message, in
// English, is kept for what the page has no words of its own for, such as the config's checks).
function refusal(error, status) {
  if (!error) return t("error.http", { status });
  const code = error.code === "invalid_form" && error.param ? "invalid_form." + error.param : error.code;
  if (i18n.lang === "en" || !code || !("error." + code in i18n.english)) return error.message || t("error.http", { status });
  return t("error." + code, { message: error.message });
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
    notice(t("notice.no_answer", { error: err.message }));
  }
}

function draw() {
  const s = page.state;
  const counts = {};
  for (const p of s.providers) counts[p.state] = (counts[p.state] || 0) + 1;
  document.getElementById("summary").textContent =
    Object.entries(counts).map(([k, v]) => num(v) + " " + t("state." + k)).join(" · ") || t("summary.none");
  drawReloadFailed(s.reload_failed);
  document.getElementById("config-path").textContent = s.editable ? t("config.editing", { path: s.config })
    : s.not_editable_code ? t("not_editable." + s.not_editable_code) : s.not_editable;
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
  const head = t("reload.failed", { since: clock(failed.since) });
  el.textContent = failed.errors ? head + "\n" + failed.errors.join("\n") : head;
}

// --- providers ---------------------------------------------------------------------------------

function drawCards(s) {
  const cards = s.providers.map((p) => card(p, s.editable));
  if (!cards.length) cards.push(h("p", { class: "muted" }, ...rich("cards.none")));
  document.getElementById("cards").replaceChildren(...cards);
}

function card(p, editable) {
  const wire = p.detected_wire && p.detected_wire !== p.wire ? p.wire + " → " + p.detected_wire : p.wire;
  return h("article", { class: "card", "data-provider": p.name, "data-state": p.state },
    h("div", { class: "card-head" },
      h("span", { class: "dot " + p.state, title: t("state." + p.state) }), h("h3", {}, p.name),
      h("span", { class: "state muted" }, t("state." + p.state))),
    h("dl", {},
      h("dt", {}, t("card.base_url")), h("dd", {}, p.base_url),
      h("dt", {}, t("card.key")), h("dd", {}, p.key === null ? t("card.key_hidden") : keySource(p.key)),
      h("dt", {}, t("card.wire")), h("dd", { "data-field": "wire" }, wire),
      h("dt", {}, t("card.probe")), h("dd", { "data-field": "latency" }, p.latency_ms !== null ? ms(p.latency_ms) : p.probed_at ? t("card.no_answer") : t("card.not_probed")),
      h("dt", {}, t("card.models")), h("dd", {}, p.default_model ? tn("card.models_default", p.models.length, { model: p.default_model }) : num(p.models.length)),
      p.local && h("dt", {}, t("card.server")), p.local && h("dd", { "data-field": "local" }, localLine(p.local)),
      Object.entries(p.local_models || {}).flatMap(([model, l]) => [
        h("dt", {}, model),
        h("dd", { "data-field": "local", "data-model": model }, localLine(l), " ", localButtons(p.name + "/" + model, l))])),
    sparkline(p.history),
    problem(p),
    [p.local, ...Object.values(p.local_models || {})].filter((l) => l && l.last_lines.length > 0).map((l) =>
      h("pre", { class: "last-lines", "data-field": "last-lines" }, l.last_lines.slice(-8).join("\n"))),
    testResult(p.test),
    h("div", { class: "actions" },
      page.state.can_test && h("button", { type: "button", class: "primary", "data-action": "test", onclick: () => runTest(p.name) }, t("action.test")),
      p.local && localButtons(p.name, p.local),
      editable && h("button", { type: "button", "data-action": "edit", onclick: (e) => editForm(e, p) }, t("action.edit")),
      editable && h("button", { type: "button", class: "danger", "data-action": "delete", onclick: () => remove(p.name) }, t("action.delete"))));
}

// Where a provider's key comes from, as the config says it (none, literal, env NAME, file PATH, credential NAME).
function keySource(source) {
  const [kind, ...rest] = source.split(" ");
  const name = rest.join(" ");
  if (kind === "env" && name.endsWith(" (not set)")) return t("key.env_unset", { name: name.slice(0, -10) });
  if (kind === "env") return t("key.env", { name });
  if (kind === "file") return t("key.file", { path: name });
  if (kind === "credential") return t("key.credential", { name });
  return kind === "literal" ? t("key.literal") : kind === "none" ? t("key.none") : source;
}

function sparkline(history) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 300 36");
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...history.map((x) => x[1] || 0));
  history.slice(-60).forEach(([at, took, state], i) => {
    const height = took === null ? 36 : Math.max(2, (took / max) * 34);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", String(i * 5));
    bar.setAttribute("y", String(36 - height));
    bar.setAttribute("width", "4");
    bar.setAttribute("height", String(height));
    bar.setAttribute("class", state);
    const tip = document.createElementNS(ns, "title");
    tip.textContent = clock(at) + ": " + (took === null ? t("card.no_answer") : ms(took));
    bar.append(tip);
    svg.append(bar);
  });
  return svg;
}

function problem(p) {
  if (p.state === "ok" || p.state === "unknown" || (!p.error && !p.cause)) return null;
  return h("div", { class: "problem " + p.state, "data-field": "problem" },
    h("div", {}, p.cause ? said(p.diagnosis, p.cause, "cause") : t("card.last_error", { error: p.error })),
    p.fix && h("div", { class: "fix" }, t("card.fix", { fix: said(p.diagnosis, p.fix, "fix") })));
}

function testResult(test) {
  if (!test) return null;
  const when = clock(test.at);
  const head = test.ok
    ? t("test.ok", { when, took: ms(test.latency_ms), wire: test.wire, model: test.model })
    : t("test.failed", { when, cause: said(test.diagnosis, test.cause, "cause") });
  return h("div", { class: test.ok ? "test" : "test failed", "data-field": "test" },
    h("div", {}, head),
    !test.ok && test.fix && h("div", { class: "fix muted" }, t("card.fix", { fix: said(test.diagnosis, test.fix, "fix") })),
    ...(test.noted || []).map((n) => h("div", { class: "muted" }, noted(n))),
    test.curl && h("pre", {}, test.curl));
}

async function runTest(name) {
  notice(t("test.running", { name }), true);
  try {
    await call("POST", "/ui/api/test", { provider: name });
    notice("");
  } catch (err) { notice(err.message); }
  await poll();
}

// A local server proxyd runs: its state and since when, its load time, what it holds.
function localLine(l) {
  const parts = [t("local.for", { state: t("local.state." + l.state), time: seconds(Math.round(l.for_s)) })];
  if (l.load_s !== null) parts.push(t("local.loads_in", { time: seconds(l.load_s) }));
  if (l.busy) parts.push(tn("local.busy", l.busy));
  if (l.context_window) parts.push(t("local.context", { tokens: num(l.context_window) }));
  if (l.idle_unload_s) parts.push(t("local.idle_unload", { time: seconds(l.idle_unload_s) }));
  if (l.retry_in_s) parts.push(t("local.retry", { when: inSeconds(l.retry_in_s) }));
  return parts.join(" · ");
}

// Start and Stop, for admins: a stopped (or crashed) server can be started, a running one stopped.
function localButtons(name, l) {
  if (!page.state.can_test) return null;
  if (["stopped", "crashed"].includes(l.state)) return h("button", { type: "button", "data-action": "start", "data-server": name, onclick: () => localServer(name, "start") }, t("action.start"));
  if (["starting", "ready"].includes(l.state)) return h("button", { type: "button", "data-action": "stop", "data-server": name, onclick: () => localServer(name, "stop") }, t("action.stop"));
  return null;
}

async function localServer(name, action) {
  notice(action === "start" ? t("local.starting", { name }) : t("local.stopping", { name }), true);
  try {
    await call("POST", "/ui/api/local", { provider: name, action });
    notice("");
  } catch (err) { notice(err.message); }
  await poll();
}

async function remove(name) {
  if (!confirm(t("confirm.delete", { name }))) return;
  await change("DELETE", "/ui/api/providers/" + encodeURIComponent(name));
}

// What a change did ({code, ...} from actions.DONE), and in which file.
function done(answer) {
  const did = answer.did;
  const value = typeof did.value === "string" ? did.value : JSON.stringify(did.value);
  return t("done." + did.code, { ...did, value, config: answer.config });
}

async function change(method, path, body) {
  try {
    notice(done(await call(method, path, body)), true);
  } catch (err) { notice(err.message); }
  await poll();
}

function editForm(event, p) {
  const at = event.target.closest(".card");
  if (at.querySelector("form")) return;
  const fields = [["base_url", p.base_url], ["default_model", p.default_model || ""]];
  const inputs = fields.map(([k, v]) => h("input", { name: k, value: v }));
  const wire = h("select", { name: "wire" }, ...["auto", "chat", "responses", "anthropic", "gemini"].map(
    (w) => h("option", { value: w, selected: w === p.wire }, w)));
  const form = h("form", { class: "grid" },
    ...fields.map(([k], i) => h("label", {}, k, inputs[i])), h("label", {}, "wire", wire),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("action.save")),
      h("button", { type: "button", class: "quiet", onclick: () => form.remove() }, t("action.cancel"))));
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

// Why a target rests: a failure reason of proxyd's (connect, timeout ...) or an answer's status.
function failure(reason) {
  if (!reason) return t("failure.unknown");
  return reason.startsWith("status_") ? t("failure.status", { status: reason.slice(7) }) : t("failure." + reason);
}

function drawGroups(groups) {
  const blocks = groups.map((g) => h("div", { class: "panel", "data-group": g.alias },
    h("h3", {}, g.alias + " ", h("span", { class: "muted" }, t("group.kind", { strategy: t("group.strategy." + g.strategy) }))),
    h("div", { class: "targets" }, ...g.targets.map((x) => h("div", {
      class: "target", "data-target": x.target, "data-resting": x.resting_s > 0 ? "yes" : "no" },
      h("span", { class: "dot " + (x.resting_s > 0 ? "degraded" : x.provider_state) }),
      h("span", {}, x.target),
      x.resting_s > 0 && h("span", { class: "muted" }, " " + t("group.resting", { time: seconds(Math.ceil(x.resting_s)), why: failure(x.last_failure) })),
      x.in_flight > 0 && h("span", { class: "muted" }, " · " + tn("local.busy", x.in_flight)))))));
  document.getElementById("groups").replaceChildren(
    ...(blocks.length ? [h("h2", {}, t("group.title")), ...blocks] : []));
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
  out.replaceChildren(h("p", { class: "muted" }, t("add.checking")));
  let found;
  try { found = await call("POST", "/ui/api/catalog", addForm()); } catch (err) {
    out.replaceChildren(h("div", { class: "problem" }, err.message));
    return;
  }
  const boxes = found.models.map((m, i) => h("label", {},
    h("input", { type: "checkbox", value: m.id, checked: i === 0 }), " " + m.id));
  const typed = h("input", { class: "typed", placeholder: t("add.typed"), "data-field": "typed-models" });
  out.replaceChildren(
    found.ok
      ? h("div", { class: "test" }, tn("add.found", found.models.length, { took: ms(found.latency_ms), url: found.base_url }))
      : h("div", { class: "problem" }, h("div", {}, said(found.diagnosis, found.cause, "cause")),
        h("div", { class: "fix" }, t("card.fix", { fix: said(found.diagnosis, found.fix, "fix") }))),
    h("div", { class: "pick" }, ...boxes), typed,
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "add-save", onclick: () => addSave(boxes, typed) },
      found.ok ? t("add.save") : t("add.save_anyway"))));
}

async function addSave(boxes, typed) {
  const models = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  models.push(...typed.value.split(",").map((m) => m.trim()).filter(Boolean));
  try {
    notice(done(await call("POST", "/ui/api/providers", { ...addForm(), models })), true);
    const f = document.getElementById("add-form");
    f.reset();
    f.hidden = true;
    document.getElementById("add-result").replaceChildren();
  } catch (err) { notice(err.message); }
  await poll();
}

// --- start ---------------------------------------------------------------------------------------

async function start() {
  await useLanguage(pickLanguage());
  languageSwitch();
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
