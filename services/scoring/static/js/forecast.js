// Month-end forecast card (GET /v1/units/{id}/forecast): now, worst case, best case; and today's to-do list
// (GET /v1/units/{id}/todo) with its CSV download. Used by the unit page and (forecast only) the overview.
import { getJSON } from "./api.js";
import { getLang } from "./i18n.js";
import { tx } from "./actions-i18n.js";
import * as fmt from "./format.js";

const TODO_LIMIT = 20;
const OVERDUE_LIMIT = 10;

export function dossierHref(ctx, dossierId) {
  return ctx.href(`/dossier/${encodeURIComponent(dossierId)}`);
}

function rankText(s) {
  return s.rank ? tx("fc_rank_of", { rank: s.rank, of: s.rank_of }) : tx("fc_unranked");
}

function scenarioBlock(key, s, current) {
  const change = key === "current" || s.score === null || current.score === null ? "" : fmt.delta(s.score - current.score, 2);
  const css = key === "current" ? "flat" : fmt.deltaClass(s.score === null || current.score === null ? null : s.score - current.score);
  const rankMove = key !== "current" && s.rank && current.rank ? current.rank - s.rank : null;
  return `<div class="fc-col fc-${key}" data-scenario="${key}">
      <h3>${tx(`fc_${key}`)}</h3>
      <p class="fc-score" data-field="score" data-value="${s.score}">${fmt.score(s.score)}<small>/100</small></p>
      <p class="delta ${css}">${change ? `${change} <span class="muted">${tx("fc_vs_current")}</span>` : "&nbsp;"}</p>
      <dl>
        <dt>${tx("fc_progress")}</dt><dd data-field="progress_rate" data-value="${s.progress_rate}">${fmt.percent(s.progress_rate)}</dd>
        <dt>${tx("fc_rank")}</dt><dd data-field="rank" data-value="${s.rank}">${rankText(s)}${rankMove ? ` <span class="delta ${fmt.deltaClass(rankMove)}">${fmt.delta(rankMove, 0)}</span>` : ""}</dd>
      </dl>
    </div>`;
}

/** Render a forecast into `box` (a section.card); `title` is the heading text. */
export function renderForecast(box, forecast, title) {
  const lang = getLang();
  box.dataset.testid = "forecast";
  box.innerHTML = `<h2>${fmt.escapeHtml(title)} <span class="muted">— ${fmt.time(forecast.as_of)}</span></h2>
    <div class="fc-grid">${["current", "worst", "best"].map((k) => scenarioBlock(k, forecast[k], forecast.current)).join("")}</div>
    <p class="muted">${tx("fc_due", { n: fmt.count(forecast.due_this_month), o: fmt.count(forecast.overdue_open) })}</p>
    <details><summary>${tx("fc_assumptions")}</summary><p>${fmt.escapeHtml(forecast.assumptions[lang] ?? forecast.assumptions.vi)}</p></details>`;
}

export async function loadForecast(box, unitId, title) {
  const forecast = await getJSON(`/v1/units/${encodeURIComponent(unitId)}/forecast`);
  if (box.isConnected) renderForecast(box, forecast, title);
  return forecast;
}

function todoRows(ctx, items, late) {
  return items
    .map((item) => {
      const timing = late
        ? `<td class="num bad">${fmt.decimal(-item.hours_left / 24, 1)}</td>`
        : `<td class="num">${fmt.decimal(item.hours_left, 1)}</td><td class="num">${fmt.decimal(item.progress_points, 2)}</td>
           <td class="num">${item.score_gain === null ? "—" : fmt.delta(item.score_gain, 3)}</td>`;
      return `<tr data-dossier="${fmt.escapeHtml(item.dossier_id)}" data-bucket="${item.bucket}">
        <td><span class="badge b-${item.bucket}">${tx(`b_${item.bucket}`)}</span></td>
        <td><a href="${dossierHref(ctx, item.dossier_id)}">${fmt.escapeHtml(item.dossier_id)}</a></td>
        <td>${fmt.dateTime(item.due_at)}</td>${timing}
        <td class="text">${fmt.escapeHtml(item.unit_name)}</td>
        <td>${fmt.escapeHtml(item.procedure_id ?? "—")}</td></tr>`;
    })
    .join("");
}

function todoTable(ctx, page, late) {
  if (!page.items.length) return `<p class="muted">${tx("todo_empty")}</p>`;
  const more = page.total > page.items.length ? `<p class="muted">${tx("todo_more", { shown: page.items.length, total: page.total })}</p>` : "";
  const timing = late
    ? `<th>${tx("col_days_late")}</th>`
    : `<th>${tx("col_hours")}</th><th title="${tx("col_points_h")}">${tx("col_points")}</th><th title="${tx("col_gain_h")}">${tx("col_gain")}</th>`;
  return `<div class="table-wrap"><table class="todo"><thead><tr>
      <th>${tx("col_bucket")}</th><th>${tx("col_dossier")}</th><th>${tx("col_due")}</th>${timing}
      <th class="text">${tx("col_unit")}</th><th>${tx("col_procedure")}</th></tr></thead>
      <tbody>${todoRows(ctx, page.items, late)}</tbody></table></div>${more}`;
}

/** Today's to-do of a unit into `box`: the to-do part, then the overdue part apart, and the CSV link. */
export async function loadTodo(box, ctx, unitId) {
  const id = encodeURIComponent(unitId);
  const [upcoming, overdue] = await Promise.all([
    getJSON(`/v1/units/${id}/todo`, { section: "upcoming", limit: TODO_LIMIT }),
    getJSON(`/v1/units/${id}/todo`, { section: "overdue", limit: OVERDUE_LIMIT }),
  ]);
  if (!box.isConnected) return;
  const totals = upcoming.totals;
  box.dataset.testid = "todo";
  box.innerHTML = `<h2>${tx("todo_title")} <span class="muted">${fmt.escapeHtml(upcoming.today)}</span>
      <a class="csv" href="/v1/units/${id}/todo?format=csv" download data-testid="todo-csv">${tx("todo_csv")}</a></h2>
    <p class="muted">${tx("todo_intro")}</p>
    <p class="todo-totals">${tx("todo_totals", { today: fmt.count(totals.due_today), tomorrow: fmt.count(totals.due_tomorrow),
      month: fmt.count(totals.due_this_month), overdue: fmt.count(totals.overdue) })}</p>
    <div id="todo-upcoming">${todoTable(ctx, upcoming, false)}</div>
    <h3>${tx("todo_overdue_title")} <span class="muted">(${fmt.count(overdue.total)})</span></h3>
    <div id="todo-overdue">${todoTable(ctx, overdue, true)}</div>`;
}
