// The unit registry over time (SPEC §1): which units exist in a month, why a unit is not ranked, merged from / into.
// Validity boundaries are first days of months (valid_from: first day it exists; valid_to: first day it no longer
// does), as `GET /v1/units` sends them ("YYYY-MM-DD", or null for "always" / "still exists").
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

/** "2025-07" → ["2025-07-01", "2025-08-01"): the month as ISO day strings, comparable as text. */
function monthBounds(period) {
  const [year, month] = period.split("-").map(Number);
  const next = month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, "0")}`;
  return [`${period}-01`, `${next}-01`];
}

/** Whether the unit exists at some day of the month (the units a month's ranking lists, SPEC §5). */
export function existsIn(unit, period) {
  const [first, end] = monthBounds(period);
  return (!unit.valid_from || unit.valid_from < end) && (!unit.valid_to || unit.valid_to > first);
}

/** The ranked levels that have at least one unit in the month, in `order`. */
export function levelsIn(units, period, order) {
  const present = new Set();
  for (const unit of units.values()) if (existsIn(unit, period)) present.add(unit.level);
  return order.filter((level) => present.has(level));
}

/** Why a level has no unit in a month: all retired before it (→ the day), none yet (→ the first day), or null. */
export function levelGone(units, level, period) {
  const ofLevel = [...units.values()].filter((u) => u.level === level);
  if (!ofLevel.length) return null;
  const [first, end] = monthBounds(period);
  if (ofLevel.every((u) => u.valid_to && u.valid_to <= first)) {
    return { kind: "ended", day: ofLevel.map((u) => u.valid_to).sort().at(-1) };
  }
  if (ofLevel.every((u) => u.valid_from && u.valid_from >= end)) {
    return { kind: "not_yet", day: ofLevel.map((u) => u.valid_from).sort()[0] };
  }
  return null;
}

/** "2025-07-01" → "01/07/2025" (vi) or "1 Jul 2025" (en). */
export function day(iso) {
  if (!iso) return "—";
  const [year, month, dayOfMonth] = iso.split("-").map(Number);
  if (getLang() === "vi") return `${String(dayOfMonth).padStart(2, "0")}/${String(month).padStart(2, "0")}/${year}`;
  return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })
    .format(Date.UTC(year, month - 1, dayOfMonth));
}

/** The Vietnamese/English text of an `unranked_reason` (no_data, too_few_dossiers, not_in_period). */
export function reasonText(reason, minDossiers) {
  if (!reason) return "";
  return t(`unranked_${reason}`, { min: minDossiers ?? 20 });
}

/** A rank that is null has a reason; the monthly notice does not carry it, so derive it as SPEC §5 does. */
export function derivedReason(row) {
  if (row.rank !== null && row.rank !== undefined) return null;
  return row.score === null || row.score === undefined ? "no_data" : "too_few_dossiers";
}

/**
 * How a month of a unit's history relates to its validity: "exists", "before" (before valid_from) or "after" (on or
 * after valid_to). `month.exists` comes from `GET /v1/units/{id}/history`.
 */
export function monthStatus(unit, month) {
  if (month.exists !== false) return "exists";
  const [first] = monthBounds(month.period);
  return unit?.valid_to && unit.valid_to <= first ? "after" : "before";
}

/** Whether a month's figures are all empty (nothing counted for the unit). */
export function monthEmpty(month) {
  return month.score === null && !Object.values(month.counters ?? {}).some((v) => v);
}

/** A link to a unit's page, or its id when the registry does not know it. */
export function unitLink(ctx, unitId) {
  const unit = ctx.units.get(unitId);
  const label = fmt.escapeHtml(unit?.name ?? unitId);
  return `<a href="${ctx.href(`/unit/${encodeURIComponent(unitId)}`)}" data-unit-link="${fmt.escapeHtml(unitId)}">${label}</a>`;
}
