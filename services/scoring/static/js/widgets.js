// Pieces the overview and the unit page share: the live information fields, group bars, score head.
import { t } from "./i18n.js";
import * as fmt from "./format.js";

const ratio = (n, d) => [n, d];

/**
 * The 11 fields of the city's real-time dashboard (HANOI_FACTS). `value` reads the figure from a summary-shaped
 * object (the API's /v1/summary, or a unit's indicators with an equivalent `dashboard` block), `frac` its
 * numerator and denominator for the hover text, `live` marks instantaneous counts (no monthly comparison).
 */
export const FIELDS = [
  { key: "received_today", kind: "count", live: true, value: (s) => s.dashboard.received_today,
    frac: (s) => ratio(s.dashboard.received_today, s.counters.received) },
  { key: "received_this_month", kind: "count", value: (s) => s.dashboard.received_this_month,
    frac: (s) => ratio(s.counters.received_online, s.counters.received) },
  { key: "online_rate", kind: "rate", value: (s) => s.rates.online_rate,
    frac: (s) => ratio(s.counters.received_online, s.counters.received) },
  { key: "in_progress", kind: "count", live: true, value: (s) => s.dashboard.in_progress,
    frac: (s) => ratio(s.dashboard.overdue, s.dashboard.in_progress) },
  { key: "resolved_this_month", kind: "count", value: (s) => s.dashboard.resolved_this_month,
    frac: (s) => ratio(s.counters.resolved_on_time, s.counters.resolved_with_due) },
  { key: "on_time_rate", kind: "rate", value: (s) => s.rates.on_time_rate,
    frac: (s) => ratio(s.counters.resolved_on_time, s.counters.resolved_with_due) },
  { key: "overdue", kind: "count", live: true, lowerIsBetter: true, definition: "d_overdue", value: (s) => s.dashboard.overdue,
    frac: (s) => ratio(s.dashboard.overdue, s.dashboard.in_progress) },
  { key: "due_soon", kind: "count", live: true, lowerIsBetter: true, value: (s) => s.dashboard.due_soon,
    frac: (s) => ratio(s.dashboard.due_soon, s.dashboard.in_progress) },
  { key: "online_payment_rate", kind: "rate", value: (s) => s.rates.online_payment_rate,
    frac: (s) => ratio(s.counters.payments_online, s.counters.payments) },
  { key: "digitization_rate", kind: "rate", value: (s) => s.rates.digitization_rate,
    frac: (s) => ratio(s.counters.received_digitized, s.counters.received) },
  { key: "satisfaction_rate", kind: "rate", value: (s) => s.rates.satisfaction_rate,
    frac: (s) => ratio(s.counters.ratings_satisfied, s.counters.ratings) },
];

/** A unit's indicators reshaped like /v1/summary (the unit API has no "received today"). */
export function summaryShape(indicators, receivedToday = null) {
  return {
    ...indicators,
    dashboard: {
      received_today: receivedToday,
      received_this_month: indicators.counters.received,
      in_progress: indicators.live.open,
      resolved_this_month: indicators.counters.resolved,
      overdue: indicators.live.overdue_open,
      due_soon: indicators.live.due_soon,
    },
  };
}

/** Apply a `unit-indicators` stream message (same JSON as shared/indicators.py) to a summary-shaped object. */
export function withMessage(summary, message) {
  const patched = { ...summary, counters: message.counters, rates: message.rates, live: message.live,
    score: message.score, rank: message.rank, rank_of: message.rank_of };
  return { ...patched, dashboard: { ...summaryShape(patched).dashboard, received_today: summary.dashboard.received_today } };
}

/**
 * The newest pushed `unit-indicators` message of a page's unit: what a re-read must not go back behind. The page
 * re-reads the API after a message, and that read can be answered before the API process has refreshed its tables
 * (it learns of the commit by NOTIFY, the publisher right after its own commit): older than what is already shown.
 * Such a read gets the message's figures laid over it, and the page reads again — a few times at most.
 */
export class PushedFigures {
  constructor(maxRereads = 5) {
    this.maxRereads = maxRereads;
    this.message = null;
    this.rereads = 0;
  }

  push(message) {
    this.message = message;
    this.rereads = 0;
  }

  /** `read` (summary-shaped) with the pushed figures laid over it when it is older than them, and whether it was. */
  settle(read) {
    const m = this.message;
    // Counts of a month only grow as its events arrive: a read with fewer than the message has not seen them yet.
    const behind = m && m.period === read.period && ["received", "events"].some((k) => (read.counters?.[k] ?? 0) < (m.counters?.[k] ?? 0));
    if (!behind || this.rereads >= this.maxRereads) {
      this.message = null;
      return [read, false];
    }
    this.rereads += 1;
    return [withMessage(read, m), true];
  }
}

function tileValue(field, value) {
  return field.kind === "rate" ? fmt.percent(value) : fmt.count(value);
}

function tileChange(field, value, previous, ctx, denominator, summary) {
  if (field.live) {
    const note = ctx.isCurrent ? t("live_note", { time: fmt.time(ctx.asOf) }) : t("past_live_note");
    return [`<span class="badge live">${t("live_badge")}</span> <span class="muted">${fmt.escapeHtml(note)}</span>`, "live"];
  }
  const before = previous ? field.value(previous) : null;
  // No value this month (on the 1st: no dossier resolved with a due date yet) is not "no figures last month".
  if (value === null || value === undefined) {
    const text = t(ctx.isCurrent ? "no_value" : "no_value_past", { period: fmt.monthName(summary.period) });
    return [`<span class="muted">${fmt.escapeHtml(text)}</span>`, "none"];
  }
  if (before === null || before === undefined) return [`<span class="muted">${t("no_change")}</span>`, "none"];
  const period = fmt.monthName(previous.period);
  // A month in progress against a whole month: on the 1st, a day's receipts against thirty days' is no "fall". The
  // previous month's total is shown as it is, without an arrow, until the month is over.
  if (ctx.isCurrent && field.kind === "count") {
    return [`<span class="muted">${fmt.escapeHtml(t("prev_total", { period, value: fmt.count(before) }))}</span>`, "total"];
  }
  // A rate over a handful of dossiers (2 resolved on time of 2: "100 %") moves by tens of points with each one; below
  // the profile's min_dossiers — the count under which a unit is not ranked (SPEC §5) — it is not compared.
  if (field.kind === "rate" && ctx.minDossiers && denominator !== null && denominator < ctx.minDossiers) {
    return [`<span class="muted">${fmt.escapeHtml(t("too_few_to_compare", { d: fmt.count(denominator), min: ctx.minDossiers }))}</span>`, "few"];
  }
  const diff = field.kind === "rate" ? (value - before) * 100 : value - before;
  const text = field.kind === "rate" ? fmt.delta(diff, 1, t("pp")) : fmt.delta(diff, 0);
  const css = fmt.deltaClass(diff, !field.lowerIsBetter, field.kind === "rate" ? 1 : 0);
  return [`<span class="delta ${css}">${text}</span> <span class="muted">${t("vs_prev", { period })}</span>`, "delta"];
}

/** Render the field tiles. `ctx`: {isCurrent, asOf, minDossiers, skip: Set of keys not to show}. */
export function renderTiles(container, summary, previous, ctx) {
  const tiles = FIELDS.filter((f) => !ctx.skip?.has(f.key)).map((field) => {
    const value = field.value(summary);
    const [n, d] = field.frac(summary);
    const hover = t(`h_${field.key}`, { n: fmt.count(n), d: fmt.count(d) });
    // A figure with a definition (the overdue count) says it in its tooltip, the same words as the rankings column.
    const definition = field.definition ? `${t(field.definition)}\n` : "";
    const [change, compared] = tileChange(field, value, previous, ctx, d ?? null, summary);
    return `
      <article class="tile${field.live ? " is-live" : ""}" data-field="${field.key}" data-value="${value === null || value === undefined ? "null" : String(value)}"
               data-numerator="${n ?? "null"}" data-denominator="${d ?? "null"}" tabindex="0" title="${fmt.escapeHtml(definition + hover)}">
        <h3>${t(`f_${field.key}`)}</h3>
        <p class="value">${tileValue(field, value)}</p>
        <p class="frac">${fmt.escapeHtml(hover)}</p>
        <p class="change" data-compared="${compared}">${change}</p>
      </article>`;
  });
  container.innerHTML = tiles.join("");
}

/** Group points as bars against their maxima, group names from the profile in force. */
export function renderGroups(container, groups, profile, lang) {
  const order = profile?.groups?.map((g) => g.key) ?? Object.keys(groups);
  const names = Object.fromEntries((profile?.groups ?? []).map((g) => [g.key, lang === "en" ? g.name_en : g.name_vi]));
  container.innerHTML = order
    .filter((key) => groups[key])
    .map((key) => {
      const { points, max } = groups[key];
      // A group none of whose indicators has data has points null: "—" and an empty hatched bar, never 0 (SPEC §6).
      const none = points === null || points === undefined;
      const share = !none && max > 0 ? Math.max(0, Math.min(1, points / max)) : 0;
      const label = none ? t("no_data") : `${fmt.decimal(points, 2)} / ${fmt.decimal(max, 0)}`;
      return `
        <div class="group${none ? " nodata" : ""}" data-group="${key}" data-points="${none ? "null" : points}" data-max="${max}"${none ? ` title="${fmt.escapeHtml(t("group_no_data"))}"` : ""}>
          <span class="group-name">${fmt.escapeHtml(names[key] ?? key)}</span>
          <span class="bar" role="img" aria-label="${fmt.escapeHtml(label)}"><span style="width:${(share * 100).toFixed(2)}%"></span></span>
          <span class="group-points">${none ? "—" : fmt.decimal(points, 2)} / ${fmt.decimal(max, 0)}</span>
        </div>`;
    })
    .join("");
}

/** Days at a month's start during which its figures rest on few dossiers (the month-start note is shown). */
export const EARLY_MONTH_DAYS = 7;

/**
 * In the current month's first EARLY_MONTH_DAYS days: how few dossiers its figures rest on, and a link to the month
 * before (closed, whole) — on the overview and on a unit's page alike (a score "▼ −16,48" against last month's whole
 * result on the 1st says nothing yet). `hrefOf(period)` is the same page's link for another period.
 */
export function renderMonthStart(box, summary, isCurrent, hrefOf) {
  const day = fmt.dayOfMonth();
  box.hidden = !isEarlyMonth(isCurrent);
  if (box.hidden) return;
  const previous = fmt.previousPeriod(summary.period, 1);
  box.innerHTML = `${fmt.escapeHtml(t("month_start", { period: fmt.monthName(summary.period), day, received: fmt.count(summary.counters.received) }))}
      <a href="${hrefOf(previous)}">${fmt.escapeHtml(t("month_start_link", { period: fmt.monthName(previous) }))}</a>`;
}

/** Whether `isCurrent`'s month is in its first EARLY_MONTH_DAYS days (the page's clock, Vietnam time). */
export function isEarlyMonth(isCurrent) {
  return Boolean(isCurrent) && fmt.dayOfMonth() <= EARLY_MONTH_DAYS;
}

/**
 * Score with its change against one or two earlier months. `early` (the current month's first days): the earlier
 * months' scores as they are, without an arrow — a day's score against a whole month's is no rise or fall yet, as
 * the month-start note beside it says.
 */
export function scoreHead(score, earlier, early = false) {
  const known = (v) => v !== null && v !== undefined;
  // Early in a month an earlier whole score is shown even when this month has none yet (on the 1st, the usual case).
  const changes = earlier
    .filter((e) => e && known(e.score) && (early || known(score)))
    .map((e) => {
      const period = fmt.monthName(e.period);
      if (early) return `<span class="muted">${fmt.escapeHtml(t("prev_score", { period, value: fmt.score(e.score) }))}</span>`;
      const diff = score - e.score;
      return `<span class="delta ${fmt.deltaClass(diff)}">${fmt.delta(diff, 2)}</span> <span class="muted">${t("vs_prev", { period })}</span>`;
    });
  const value = score === null || score === undefined ? `<span class="muted">${t("score_null")}</span>` : `${fmt.score(score)}<small>${t("out_of_100")}</small>`;
  return `
    <div class="score" data-value="${score ?? "null"}">${value}</div>
    <div class="score-changes" data-compared="${early ? "total" : "delta"}">${changes.join(" · ")}</div>`;
}
