// Languages of the web app: English, Thai and Vietnamese. Every page registers its labels in
// all three; numbers, dates and money are formatted by the browser's Intl for the chosen
// locale (Thai dates use the Buddhist era, as Thai users read them).

export const LANGUAGES = [
  { code: "en", name: "English", locale: "en-GB" },
  { code: "th", name: "ไทย", locale: "th-TH" },
  { code: "vi", name: "Tiếng Việt", locale: "vi-VN" },
];

const STORAGE_KEY = "c360.language";
const catalogs = { en: {}, th: {}, vi: {} };
export const missing = new Set(); // keys asked for but not translated (the browser tests read it)
window.__c360_missing = missing;

let current = initialLanguage();

function initialLanguage() {
  const saved = window.localStorage.getItem(STORAGE_KEY);
  if (saved && saved in catalogs) return saved;
  const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
  return browser in catalogs ? browser : "en";
}

export function language() {
  return current;
}

export function locale() {
  return LANGUAGES.find((l) => l.code === current).locale;
}

export function setLanguage(code) {
  if (!(code in catalogs)) throw new Error(`unknown language ${code}`);
  current = code;
  window.localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
}

// messages: {en: {key: text}, th: {...}, vi: {...}}; a page calls it once when it loads.
export function register(messages) {
  for (const code of Object.keys(catalogs)) Object.assign(catalogs[code], messages[code] || {});
}

export function catalog(code) {
  return catalogs[code];
}

// t("profiles.count", {n: 3}) -> the text in the current language with {n} filled in.
export function t(key, vars) {
  let text = catalogs[current][key];
  if (text === undefined) {
    missing.add(`${current}:${key}`);
    text = catalogs.en[key] ?? key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? formatValue(vars[name]) : m));
  return text;
}

// A value from the data (a consent purpose, a channel) in the current language when the
// catalogs know it ("consent.purpose" + "marketing"), else as the data says (configured ones).
export function term(prefix, value) {
  if (value === null || value === undefined || value === "") return "–";
  const key = `${prefix}.${value}`;
  const text = catalogs[current][key] ?? catalogs.en[key];
  return text === undefined ? String(value) : text;
}

// A consent purpose's name in the current language: the label the business configured for
// it (C360_CONSENT_PURPOSES), else the catalogs' translation, else its English label, else
// the name itself. ``labels`` is the purpose's {en, th, vi} as the consent API gives it.
export function purposeLabel(name, labels) {
  if (name === null || name === undefined || name === "") return "–";
  const given = labels || {};
  const key = `consent.purpose.${name}`;
  return given[current] ?? catalogs[current][key] ?? given.en ?? catalogs.en[key] ?? String(name);
}

function formatValue(value) {
  return typeof value === "number" ? number(value) : String(value);
}

export function number(value, options) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), options).format(value);
}

export function percent(value, digits = 1) {
  return number(value, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function money(amount, currency = "THB") {
  if (amount === null || amount === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(amount);
}

function asDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function date(value, options = { dateStyle: "medium" }) {
  const d = asDate(value);
  return d ? new Intl.DateTimeFormat(locale(), options).format(d) : "–";
}

export function dateTime(value) {
  return date(value, { dateStyle: "medium", timeStyle: "short" });
}

// "3 days ago" in the chosen language.
export function ago(value) {
  const d = asDate(value);
  if (!d) return "–";
  const seconds = (d.getTime() - Date.now()) / 1000;
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(Math.round(seconds), "second");
}

document.documentElement.lang = current;
