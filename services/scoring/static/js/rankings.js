// Rankings of one level for a month: sortable table; a row opens the unit's page.
// Reads the monthly publication as JSON, so the table and the notice the city office sends say the same thing, and
// `/v1/rankings` for why a unit is not ranked and its rates. Columns chosen to fit a 1,366 px screen without horizontal
// scrolling: the six group points are one compact bar cell (figures in its tooltip, in full on the unit page). Only the units that existed in the month are listed (SPEC §5): the
// ranked ones first, then the unranked ones with their reason; a level with no unit in the month says so.
import { MonthView, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { derivedReason, day, levelGone, levelsIn, reasonText } from "./registry.js";

export const LEVELS = ["department", "district", "commune"];

const nullLast = (a, b, dir) => {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "string") return dir * a.localeCompare(b, "vi");
  return dir * (a - b);
};

/** Null shows as "—" with a "no data" tooltip, never as 0 (SPEC §6). */
const noData = (show) => (v, r) =>
  v === null || v === undefined ? `<span class="nodata" title="${fmt.escapeHtml(t("no_data"))}">—</span>` : show(v, r);

export class RankingsView extends MonthView {
  constructor(ctx, level) {
    super(ctx, 2000);
    this.level = LEVELS.includes(level) ? level : "department";
    this.report = null;
    this.reasons = new Map();
    this.minDossiers = null;
    this.sort = { key: "rank", dir: 1 };
  }

  /** The levels that have units in the month: from the notice once read, from the registry before. */
  levels() {
    if (this.report) return LEVELS.filter((level) => this.report.items.some((r) => r.level === level));
    return this.ctx.units.size ? levelsIn(this.ctx.units, this.period, LEVELS) : LEVELS;
  }

  renderTabs() {
    const box = this.container.querySelector(".tabs");
    if (!box) return;
    box.innerHTML = this.levels()
      .map(
        (level) => `<a role="tab" class="tab${level === this.level ? " active" : ""}" aria-selected="${level === this.level}"
        href="${this.ctx.href(`/rankings/${level}`)}" data-level="${level}">${fmt.levelName(level)}</a>`,
      )
      .join("");
  }

  skeleton() {
    this.container.innerHTML = `
      <section class="card">
        <div class="tabs" role="tablist"></div>
        <h2 id="rankings-title"></h2>
        <p class="muted" id="rankings-hint">${t("sort_hint")}</p>
        <p class="empty-level" id="rankings-empty" role="status" hidden></p>
        <div class="table-wrap"><table class="rankings" id="rankings"><thead></thead><tbody><tr><td>${t("loading")}</td></tr></tbody></table></div>
      </section>`;
    this.renderTabs();
    this.container.querySelector("thead").addEventListener("click", (event) => {
      const th = event.target.closest("th[data-sort]");
      if (!th) return;
      const key = th.dataset.sort;
      this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : key === "name" || key === "rank" ? 1 : -1 };
      this.renderTable();
    });
    const tbody = this.container.querySelector("tbody");
    const open = (row) => row && (window.location.hash = this.ctx.href(`/unit/${encodeURIComponent(row.dataset.unit)}`));
    tbody.addEventListener("click", (event) => open(event.target.closest("tr[data-unit]")));
    tbody.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open(event.target.closest("tr[data-unit]"));
    });
  }

  async refresh() {
    const period = this.period;
    try {
      const [report, ranking] = await Promise.all([
        getJSON("/v1/reports/monthly", { period, format: "json" }),
        getJSON("/v1/rankings", { level: this.level, period }),
      ]);
      if (period !== this.period) return;
      this.report = report;
      this.reasons = new Map(ranking.items.map((item) => [item.unit_id, item]));
      this.minDossiers = ranking.min_dossiers ?? this.ctx.profile?.min_dossiers ?? null;
      this.render();
    } catch (error) {
      this.ctx.showError(this.container, error, () => this.refresh());
    }
  }

  /** The group points as one compact cell: a small bar per group (full = its maximum), the figures in the tooltip;
   * the unit page has them in full. Keeps the table inside a 1,366 px screen (no horizontal scrolling). */
  groupBars(r) {
    const lang = getLang();
    const parts = (this.report?.groups ?? []).map((g) => {
      const profileGroup = this.ctx.profile?.groups?.find((p) => p.key === g.key);
      const name = lang === "en" && profileGroup ? profileGroup.name_en : g.name_vi;
      const points = r.groups[g.key];
      const none = points === null || points === undefined;
      const share = none || !g.max ? 0 : Math.max(0, Math.min(1, points / g.max));
      return { key: g.key, none, share, text: `${name}: ${none ? t("no_data") : fmt.decimal(points, 2)} / ${fmt.decimal(g.max, 0)}` };
    });
    const title = parts.map((p) => p.text).join("\n");
    return `<span class="gbars" role="img" aria-label="${fmt.escapeHtml(title)}" title="${fmt.escapeHtml(title)}">${parts
      .map((p) => `<span class="gbar${p.none ? " nodata" : ""}" data-group="${p.key}"><span style="height:${(p.share * 100).toFixed(1)}%"></span></span>`)
      .join("")}</span>`;
  }

  columns() {
    const current = this.period === this.ctx.currentPeriod();
    const rate = (key) => ({ key, label: t(`col_${key}`), title: t(`col_${key}_hint`), value: (r) => r.rates?.[key] ?? null,
      show: noData((v) => fmt.percent(v)) });
    const totalPoints = (r) => {
      const values = Object.values(r.groups ?? {}).filter((v) => v !== null && v !== undefined);
      return values.length ? values.reduce((a, b) => a + b, 0) : null;
    };
    return [
      { key: "rank", label: t("col_rank"), value: (r) => r.rank,
        show: (v, r) => v ?? `<span class="nodata" title="${fmt.escapeHtml(reasonText(r.reason, this.minDossiers))}">—</span>` },
      { key: "name", label: t("col_unit"), value: (r) => r.name,
        show: (v, r) => `${fmt.escapeHtml(v)}${r.reason ? ` <span class="reason" data-reason="${r.reason}">${fmt.escapeHtml(reasonText(r.reason, this.minDossiers))}</span>` : ""}` },
      { key: "score", label: t("col_score"), value: (r) => r.score, show: noData((v) => fmt.score(v)) },
      { key: "rank_change_1", label: t("col_rank_change"), value: (r) => r.rank_change_1,
        show: (v) => `<span class="delta ${fmt.deltaClass(v)}">${fmt.delta(v, 0) || "—"}</span>` },
      { key: "score_change_1", label: t("col_score_change"), value: (r) => r.score_change_1,
        show: (v) => `<span class="delta ${fmt.deltaClass(v)}">${fmt.delta(v, 2) || "—"}</span>` },
      { key: "groups", label: t("col_groups"), title: t("col_groups_hint"), value: totalPoints, show: (_, r) => this.groupBars(r) },
      rate("progress_rate"),
      rate("on_time_rate"),
      rate("online_rate"),
      { key: "overdue", label: t("col_overdue"), title: t("col_overdue_hint"), value: (r) => r.overdue, show: (v) => fmt.count(v) },
      ...(current ? [{ key: "overdue_open", label: t("col_overdue_open"), title: t("col_overdue_open_hint"), value: (r) => r.overdue_open, show: (v) => fmt.count(v) }] : []),
    ];
  }

  render() {
    if (!this.report || !this.container.isConnected) return;
    document.getElementById("rankings-title").textContent = t("rankings_title", {
      level: fmt.levelName(this.level),
      period: fmt.monthName(this.report.period),
    });
    this.renderTabs();
    const empty = !this.report.items.some((r) => r.level === this.level);
    const note = document.getElementById("rankings-empty");
    note.hidden = !empty;
    document.getElementById("rankings-hint").hidden = empty;
    this.container.querySelector(".table-wrap").hidden = empty;
    if (empty) {
      const gone = levelGone(this.ctx.units, this.level, this.report.period);
      const vars = { level: fmt.levelName(this.level), period: fmt.monthName(this.report.period), day: day(gone?.day) };
      note.textContent = t(gone ? `level_${gone.kind}` : "level_empty", vars);
      return;
    }
    this.renderTable();
  }

  renderTable() {
    const columns = this.columns();
    const table = document.getElementById("rankings");
    table.querySelector("thead").innerHTML = `<tr>${columns
      .map((c) => {
        const sorted = this.sort.key === c.key ? (this.sort.dir > 0 ? "ascending" : "descending") : "none";
        return `<th scope="col" data-sort="${c.key}" aria-sort="${sorted}"${c.title ? ` title="${fmt.escapeHtml(c.title)}"` : ""}>${fmt.escapeHtml(c.label)}</th>`;
      })
      .join("")}</tr>`;
    const column = columns.find((c) => c.key === this.sort.key) ?? columns[0];
    const rows = (this.report.items ?? [])
      .filter((r) => r.level === this.level)
      .map((r) => ({ ...r, rates: this.reasons.get(r.unit_id)?.rates ?? null,
        reason: r.rank === null ? (this.reasons.get(r.unit_id)?.unranked_reason ?? derivedReason(r)) : null }))
      .sort((a, b) => nullLast(column.value(a), column.value(b), this.sort.dir) || nullLast(a.rank, b.rank, 1));
    // In rank order the unranked units (rank null, unit_id order) come after a separator that says what they are.
    const byRank = this.sort.key === "rank" && this.sort.dir > 0;
    const firstUnranked = byRank ? rows.findIndex((r) => r.rank === null) : -1;
    const separator = `<tr class="unranked-head" data-unranked-head><td colspan="${columns.length}">${fmt.escapeHtml(
      t("unranked_head", { n: rows.length - firstUnranked, min: this.minDossiers ?? 20 }),
    )}</td></tr>`;
    table.querySelector("tbody").innerHTML = rows
      .map(
        (r, i) => `${i === firstUnranked ? separator : ""}<tr data-unit="${fmt.escapeHtml(r.unit_id)}" data-rank="${r.rank ?? ""}" data-score="${r.score ?? "null"}"${r.reason ? ` data-reason="${r.reason}" class="unranked"` : ""} tabindex="0">${columns
          .map((c) => `<td data-col="${c.key}">${c.show(c.value(r), r)}</td>`)
          .join("")}</tr>`,
      )
      .join("");
  }

  onIndicators(message) {
    if (this.period === this.ctx.currentPeriod() && message.period === this.period) this.scheduleRefresh();
  }

  relabel() {
    this.skeleton();
    this.render();
  }
}
