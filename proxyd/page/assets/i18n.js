// The page's words in its reader's language: one catalog per language (i18n/LANG.json, flat
// "key": "text" with {name} slots), chosen from navigator.languages or the header's switch (kept
// in the tab's storage), English where a language lacks a text. Numbers, durations and times
// go through Intl. A diagnosis from the server is said from its code; its English is the
// server's own (proxyd/diagnosis.py), so en.json has no cause./fix./note. keys.
"use strict";

// Each language in its own name, as the switch shows it; a catalog file per key.
const LANGUAGES = { en: "English", vi: "Tiếng Việt", zh: "中文" };
// The tag <html lang> gets: a Chinese page in Simplified Chinese fonts.
const HTML_LANG = { zh: "zh-Hans" };
const PLURALS = ["zero", "one", "two", "few", "many", "other"];
const i18n = { lang: "en", text: {}, english: {}, formats: new Map(), missing: new Set() };

function pickLanguage() {
  const kept = sessionStorage.getItem("proxyd-lang");
  if (kept && LANGUAGES[kept]) return kept;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES[base]) return base;
  }
  return "en";
}

async function catalog(lang) {
  const resp = await fetch("/ui/i18n/" + lang + ".json");
  if (!resp.ok) throw new Error("HTTP " + resp.status + " for the " + lang + " catalog");
  return resp.json();
}

async function useLanguage(lang) {
  const wanted = lang === "en" ? null : catalog(lang).catch((err) => {
    console.error("proxyd page: " + err.message + "; the page is in English");
    lang = "en";
    return null;
  });
  const [english, text] = await Promise.all([catalog("en"), wanted]);
  Object.assign(i18n, { lang, english, text: text || english, formats: new Map(), missing: new Set() });
  document.documentElement.lang = HTML_LANG[lang] || lang;
  translateStatic(document);
}

// A key this language lacks is said in English, and named once in the console (a test reads it).
function lookup(key) {
  if (key in i18n.text) return i18n.text[key];
  if (!i18n.missing.has(key)) {
    i18n.missing.add(key);
    console.error("proxyd page: no " + i18n.lang + " text for " + key);
  }
  return key in i18n.english ? i18n.english[key] : key;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (slot, name) =>
    params && name in params ? (typeof params[name] === "number" ? num(params[name]) : String(params[name])) : slot);
}

function t(key, params) {
  return fill(lookup(key), params);
}

// A count's text: key.one, key.other ... as the language's plural rules pick ({n} is the count).
function tn(key, n, params) {
  const rule = format("plural", () => new Intl.PluralRules(i18n.lang)).select(n);
  const chosen = key + "." + rule in i18n.text ? key + "." + rule : key + ".other";
  return t(chosen, { n, ...params });
}

// Text whose `back-quoted` parts are code (config keys, commands): nodes, never HTML.
function rich(key, params) {
  return t(key, params).split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

function translateStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.replaceChildren(...rich(el.dataset.i18n));
  for (const attr of ["placeholder", "title", "aria-label"]) {
    for (const el of root.querySelectorAll("[data-i18n-" + attr + "]")) el.setAttribute(attr, t(el.getAttribute("data-i18n-" + attr)));
  }
  document.title = "proxyd";
}

// --- Intl ------------------------------------------------------------------------------------------

function format(name, make) {
  if (!i18n.formats.has(name)) i18n.formats.set(name, make());
  return i18n.formats.get(name);
}

function num(n, digits) {
  const key = "num" + (digits === undefined ? "" : digits);
  const opts = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return format(key, () => new Intl.NumberFormat(i18n.lang, opts)).format(n);
}

const unit = (name, n) => format("unit-" + name, () =>
  new Intl.NumberFormat(i18n.lang, { style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: 1 })).format(n);
const ms = (n) => unit("millisecond", n);
const seconds = (n) => unit("second", n);
const percent = (share) => format("percent", () =>
  new Intl.NumberFormat(i18n.lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 })).format(share);
const dollars = (v) => format("usd", () => new Intl.NumberFormat(i18n.lang, { style: "currency", currency: "USD" })).format(Number(v));
const clock = (at) => format("clock", () => new Intl.DateTimeFormat(i18n.lang, { timeStyle: "medium" })).format(new Date(at * 1000));
const inSeconds = (n) => format("relative", () => new Intl.RelativeTimeFormat(i18n.lang, { numeric: "always" })).format(Math.ceil(n), "second");
// A ledger day (YYYY-MM-DD, UTC) as the language writes a date.
const day = (d) => format("day", () => new Intl.DateTimeFormat(i18n.lang, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" })).format(new Date(d + "T00:00:00Z"));

// What the server says in English (a diagnosis, a note, a tool-call verdict), in the page's
// language: en.json has none of these, the server's words are the English.
function server(key, params, english) {
  if (i18n.lang === "en") return english;
  if (!(key in i18n.text)) {
    lookup(key);  // named in the console
    return english;
  }
  return t(key, params);
}

// A diagnosis ({code, fix_code, params, via} beside its English cause and fix) in the page's language.
function said(diagnosis, english, part) {
  if (!diagnosis) return english;
  const key = part === "fix" ? "fix." + diagnosis.fix_code : "cause." + diagnosis.code;
  const text = server(key, diagnosis.params, null);  // null: the English stands (it has the via already)
  if (text === null) return english;
  return part === "cause" && diagnosis.via ? diagnosis.via + ": " + text : text;
}

// A note of proxyd check's ({code, params, text}).
const noted = (n) => server("note." + n.code, n.params, n.text);

function languageSwitch() {
  const select = document.getElementById("lang");
  select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) =>
    h("option", { value: code, selected: code === i18n.lang, lang: HTML_LANG[code] || code }, name)));
  select.addEventListener("change", async () => {
    sessionStorage.setItem("proxyd-lang", select.value);
    await useLanguage(select.value);
    page.modelsDrawn = "";  // drawn in the old language
    if (page.state) draw();
    pollUsage();
  });
}
