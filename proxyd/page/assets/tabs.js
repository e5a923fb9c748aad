// The Models, Traffic and Usage tabs (page.js polls and calls drawModels, drawTraffic, pollUsage).
"use strict";

// --- models --------------------------------------------------------------------------------------

function drawModels(s) {
  const section = document.getElementById("models");
  const drawn = JSON.stringify([s.editable, s.providers.map((p) => [p.name, p.models])]);
  if (drawn === page.modelsDrawn || typing(section)) return;
  page.modelsDrawn = drawn;
  const blocks = s.providers.map((p) => h("div", { "data-models-of": p.name },
    h("h2", {}, p.name),
    p.models.length ? modelTable(p, s.editable) : h("p", { class: "muted" }, t("models.none"))));
  section.replaceChildren(...blocks);
}

function modelTable(p, editable) {
  const head = h("tr", {}, ...[t("models.col.model"), t("models.col.alias"), t("models.col.window"), t("models.col.max_output"),
    t("models.col.capabilities"), t("models.col.tags"), t("models.col.tool_calls"), t("models.col.listed")].map(
    (text, i) => h("th", { class: i === 2 || i === 3 ? "num" : null }, text)));
  const rows = p.models.map((m) => {
    const set = (key, value) => change("POST", "/ui/api/set", { provider: p.name, model: m.id, key, value });
    const input = (cls, value, key, parse) => h("input", {
      class: cls, value: value === null ? "" : value, disabled: !editable, "aria-label": t("models.field_of", { field: key, model: m.id }),
      onchange: (e) => set(key, parse(e.target.value)),
    });
    const badges = BADGES.map((cap) => h("button", {
      type: "button", class: "badge", disabled: !editable, "data-capability": cap,
      "aria-pressed": m.capabilities[cap] === null ? "mixed" : String(m.capabilities[cap]),
      title: m.capabilities[cap] === null ? t("models.badge_unknown") : t("models.badge_flip"),
      onclick: () => set("capabilities." + cap, m.capabilities[cap] !== true),
    }, t("badge." + cap)));
    return h("tr", { "data-model": m.id },
      h("td", {}, m.id),
      h("td", {}, input("alias", m.alias, "alias", (v) => v.trim())),
      h("td", { class: "num" }, input("window", m.context_window, "context_window", (v) => (v.trim() ? Number(v) : null)),
        m.context_window_source === "default" ? h("span", { class: "guess", title: t("models.guess_why") }, t("models.guess")) : null),
      h("td", { class: "num" }, m.max_output_tokens === null ? "–" : num(m.max_output_tokens)),
      h("td", {}, ...badges),
      h("td", {}, input("tags", m.tags.join(", "), "tags", (v) => v)),
      h("td", {}, toolHealth(m.tool_calls)),
      h("td", { class: "muted" }, t("models.source." + m.source)));
  });
  const other = p.tool_calls_other
    ? h("p", { class: "muted", "data-tool-calls-other": "" }, t("models.outside"), " ", toolHealth(p.tool_calls_other))
    : null;
  return h("div", {}, h("table", {}, h("thead", {}, head), h("tbody", {}, ...rows)), other);
}

// What a model's recent answers say about its tool calls; the fix is in the title and below.
function toolHealth(report) {
  if (!report) return h("span", { class: "muted" }, "–");
  const tone = { well: "ok", in_text: "warn", invalid: "warn", never: "bad", unknown: "muted" }[report.verdict];
  const counts = Object.entries(report.calls).map(([k, v]) => k + " " + num(v)).join(", ");
  const fix = report.fix && server("tools.fix." + report.verdict, report.fix_params, report.fix);
  return h("span", { class: "tool-health " + tone, "data-tool-verdict": report.verdict, title: fix || counts },
    server("tools.says." + report.verdict, {}, report.says), fix ? h("small", { class: "tool-fix" }, fix) : null);
}

// --- traffic -------------------------------------------------------------------------------------

function drawTraffic(traffic) {
  const cell = (v, isNum) => h("td", { class: isNum ? "num" : null }, v === null || v === undefined ? "–" : typeof v === "number" ? num(v) : v);
  const summary = Object.entries(traffic.by_provider).map(([name, x]) => h("tr", { "data-traffic-of": name },
    cell(name), cell(x.requests, 1), cell(x.per_minute, 1), cell(percent(x.error_rate), 1),
    cell(x.p50_ms, 1), cell(x.p95_ms, 1), cell(x.cache_hit_ratio === null ? null : percent(x.cache_hit_ratio), 1)));
  document.getElementById("traffic-summary").replaceChildren(
    h("tr", {}, ...[t("traffic.col.provider"), t("traffic.col.requests"), t("traffic.col.per_minute"), t("traffic.col.errors"),
      t("traffic.col.p50"), t("traffic.col.p95"), t("traffic.col.cache_hits")].map((x, i) => h("th", { class: i ? "num" : null }, x))),
    ...(summary.length ? summary : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, t("traffic.none")))]));
  const recent = traffic.recent.slice(0, 300).map((r) => h("tr", {},
    cell(clock(r.at)), cell(r.endpoint + (r.wire ? " → " + r.wire : "")),
    cell(r.provider), cell(r.model), h("td", { class: r.status < 400 ? "status-ok num" : "status-bad num" }, r.status),
    cell(r.ttft_ms, 1), cell(r.duration_ms, 1),
    cell(r.prompt_tokens === null ? null : num(r.prompt_tokens) + " / " + num(r.completion_tokens), 1),
    cell(r.translated ? t("traffic.yes") : ""), cell(r.error)));
  document.getElementById("traffic-recent").replaceChildren(
    h("tr", {}, ...[t("traffic.col.time"), t("traffic.col.wire"), t("traffic.col.provider"), t("traffic.col.model"),
      t("traffic.col.status"), t("traffic.col.ttft"), t("traffic.col.ms"), t("traffic.col.tokens"), t("traffic.col.translated"),
      t("traffic.col.error")].map((x) => h("th", {}, x))),
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

async function pollUsage() {
  if (document.getElementById("usage").hidden || document.body.classList.contains("refused")) return;
  try {
    drawUsage(await call("GET", "/ui/api/usage"));
  } catch (err) {
    document.getElementById("usage-chart").replaceChildren(h("p", { class: "muted" }, t("usage.unavailable", { error: err.message })));
  }
}

function drawUsage(u) {
  if (!u.enabled) {
    document.getElementById("usage-chart").replaceChildren(h("p", { class: "muted" }, ...rich("usage.off")));
    return;
  }
  document.getElementById("usage-total").textContent = u.total ? tn("usage.total", u.total.requests, { cost: dollars(u.total.cost_usd) }) : "";
  document.getElementById("usage-chart").replaceChildren(spendChart(u.days));
  document.getElementById("usage-budgets").replaceChildren(...(u.budgets.length ? u.budgets.map(budgetBar)
    : [h("p", { class: "muted" }, ...rich("usage.no_budgets"))]));
  document.getElementById("usage-clients").replaceChildren(...usageTable(u.clients, "client"));
  document.getElementById("usage-models").replaceChildren(...usageTable(u.models, "model"));
}

// One bar a day, scaled to the costliest day; each bar's title says the day, its cost and requests.
function spendChart(days) {
  const width = 600, height = 140, gap = 2, bar = width / days.length - gap;
  const top = Math.max(...days.map((d) => d.cost_usd), 0.01);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 16}`, class: "spend", role: "img",
    "aria-label": t("usage.per_day") });
  days.forEach((d, i) => {
    const tall = Math.max((d.cost_usd / top) * height, d.cost_usd > 0 ? 1 : 0);
    chart.append(svg("rect", { x: i * (bar + gap), y: height - tall, width: bar, height: tall, "data-day": d.day },
      svg("title", {}, day(d.day) + ": " + tn("usage.day", d.requests, { cost: dollars(d.cost_usd) }))));
  });
  chart.append(svg("text", { x: 0, y: height + 14, class: "axis" }, day(days[0].day)),
    svg("text", { x: width, y: height + 14, class: "axis", "text-anchor": "end" }, day(days[days.length - 1].day)),
    svg("text", { x: 0, y: 10, class: "axis" }, t("usage.max", { cost: dollars(top) })));
  return chart;
}

function budgetBar(b) {
  const used = b.budget_usd ? b.spent_usd / b.budget_usd : 0;
  const tone = used >= 1 ? "bad" : used >= 0.8 ? "warn" : "ok";
  const fill = h("span", {});
  fill.style.width = Math.min(used * 100, 100).toFixed(1) + "%";  // CSSOM: the page's CSP allows no style attribute
  const what = t("budget." + b.kind + "." + b.period, { name: b.name }) + (b.mode === "soft" ? " " + t("budget.soft") : "");
  return h("div", { class: "budget", "data-budget-of": b.kind + ":" + b.name + ":" + b.period },
    h("span", {}, what),
    h("span", { class: "meter " + tone, "data-used": used.toFixed(3) }, fill),
    h("span", { class: "num" }, t("budget.of", { spent: dollars(b.spent_usd), budget: dollars(b.budget_usd) })));
}

function usageTable(rows, by) {
  const cell = (v, isNum) => h("td", { class: isNum ? "num" : null }, typeof v === "number" ? num(v) : v);
  const head = h("tr", {}, ...[by === "client" ? t("usage.col.client") : t("usage.col.model"), t("usage.col.requests"),
    t("usage.col.prompt"), t("usage.col.cached"), t("usage.col.completion"), t("usage.col.cost")].map((x, i) => h("th", { class: i ? "num" : null }, x)));
  if (!rows.length) return [head, h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("usage.none")))];
  return [head, ...rows.map((r) => h("tr", { ["data-usage-" + by]: r[by] }, cell(r[by]), cell(r.requests, 1), cell(r.prompt, 1),
    cell(r.cache_read, 1), cell(r.completion, 1), cell(r.unpriced ? t("usage.unpriced", { cost: dollars(r.cost_usd), n: r.unpriced }) : dollars(r.cost_usd), 1)))];
}
