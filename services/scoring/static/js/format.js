// Display formatting. The API sends unrounded figures; the page rounds only for display.
import { getLang, t } from "./i18n.js";

const locale = () => (getLang() === "en" ? "en-GB" : "vi-VN");
const VN_TIME = "Asia/Ho_Chi_Minh";

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function count(value) {
  return value === null || value === undefined ? "—" : new Intl.NumberFormat(locale()).format(value);
}

export function decimal(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

export function percent(rate, digits = 1) {
  return rate === null || rate === undefined ? "—" : `${decimal(rate * 100, digits)} %`;
}

export function score(value) {
  return decimal(value, 2);
}

/** A signed change: "▲ +1,61", "▼ −0,5", "= 0". `unit` is appended (e.g. "điểm %"). */
export function delta(value, digits = 1, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  const rounded = Number(value.toFixed(digits));
  const tail = unit ? ` ${unit}` : "";
  if (rounded === 0) return `= 0${tail}`;
  const arrow = rounded > 0 ? "▲" : "▼";
  const sign = rounded > 0 ? "+" : "−";
  return `${arrow} ${sign}${decimal(Math.abs(rounded), digits)}${tail}`;
}

/** up / down / flat, judged on the value as displayed with `digits` decimals (a "= 0" is never red). */
export function deltaClass(value, higherIsBetter = true, digits = 2) {
  if (value === null || value === undefined || Number(value.toFixed(digits)) === 0) return "flat";
  return value > 0 === higherIsBetter ? "up" : "down";
}

export function dateTime(iso) {
  if (!iso) return "—";
  const options = { timeZone: VN_TIME, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false };
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

export function time(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), { timeZone: VN_TIME, timeStyle: "medium" }).format(new Date(iso));
}

/** "2026-10" → "10/2026" (vi) or "Oct 2026" (en). */
export function monthName(period) {
  if (!period) return "";
  const [year, month] = period.split("-").map(Number);
  if (getLang() === "vi") return `${String(month).padStart(2, "0")}/${year}`;
  return new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" }).format(Date.UTC(year, month - 1, 1));
}

export function levelName(level) {
  return t(`level_${level}`);
}

/** The month before a YYYY-MM label, `back` months back. */
export function previousPeriod(period, back = 1) {
  const [year, month] = period.split("-").map(Number);
  const index = year * 12 + (month - 1) - back;
  return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

/** The day of the month in Vietnam time (UTC+07:00, no DST): 1 on the first. */
export function dayOfMonth(now = new Date()) {
  return new Date(now.getTime() + 7 * 3600 * 1000).getUTCDate();
}

/** The current month in Vietnam time (UTC+07:00, no DST). */
export function currentPeriod(now = new Date()) {
  const vn = new Date(now.getTime() + 7 * 3600 * 1000);
  return `${vn.getUTCFullYear()}-${String(vn.getUTCMonth() + 1).padStart(2, "0")}`;
}
