// Rankings of one level for a month: sortable table; a row opens the unit's page.
// Reads the monthly publication as JSON, so the table and the notice the city office sends say the same thing.
import { debounce, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

export const LEVELS = ["department", "district", "commune"];

const nullLast = (a, b, dir) => {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "string") return dir * a.localeCompare(b, "vi");
  return dir * (a - b);
};

export class RankingsView {
  constructor(ctx, level) {
    this.ctx = ctx;
    this.level = LEVELS.includes(level) ? level : "department";
    this.report = null;
    this.sort = { key: "rank", dir: 1 };
    this.scheduleRefresh = debounce(() => this.refresh(), 2000);
  }

  get period() {
    return this.ctx.period ?? this.ctx.currentPeriod();
  }

  mount(container) {
    this.container = container;
    this.skeleton();
    return this.refresh();
  }

  skeleton() {
    const tabs = LEVELS.map(
      (level) => `<a role="tab" class="tab${level === this.level ? " active" : ""}" aria-selected="${level === this.level}"
        href="${this.ctx.href(`/rankings/${level}`)}" data-level="${level}">${fmt.levelName(level)}</a>`,
    ).join("");
    this.container.innerHTML = `
      <section class="card">
        <div class="tabs" role="tablist">${tabs}</div>
        <h2 id="rankings-title"></h2>
        <p class="muted">${t("sort_hint")}</p>
        <div class="table-wrap"><table class="rankings" id="rankings"><thead></thead><tbody><tr><td>${t("loading")}</td></tr></tbody></table></div>
      </section>`;
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
      const report = await getJSON("/v1/reports/monthly", { period, format: "json" });
      if (period !== this.period) return;
      this.report = report;
      this.render();
    } catch (error) {
      this.ctx.showError(this.container, error, () => this.refresh());
    }
  }

  columns() {
    const lang = getLang();
    const groups = (this.report?.groups ?? []).map((g) => {
      const profileGroup = this.ctx.profile?.groups?.find((p) => p.key === g.key);
      const name = lang === "en" && profileGroup ? profileGroup.name_en : g.name_vi;
      return { key: `g:${g.key}`, label: `${name} (${fmt.decimal(g.max, 0)})`, value: (r) => r.groups[g.key], show: (v) => fmt.decimal(v, 2) };
    });
    const current = this.period === this.ctx.currentPeriod();
    return [
      { key: "rank", label: t("col_rank"), value: (r) => r.rank, show: (v) => v ?? "—" },
      { key: "name", label: t("col_unit"), value: (r) => r.name, show: (v) => fmt.escapeHtml(v) },
      { key: "score", label: t("col_score"), value: (r) => r.score, show: (v) => fmt.score(v) },
      { key: "rank_change_1", label: t("col_rank_change"), value: (r) => r.rank_change_1,
        show: (v) => `<span class="delta ${fmt.deltaClass(v)}">${fmt.delta(v, 0) || "—"}</span>` },
      { key: "score_change_1", label: t("col_score_change"), value: (r) => r.score_change_1,
        show: (v) => `<span class="delta ${fmt.deltaClass(v)}">${fmt.delta(v, 2) || "—"}</span>` },
      ...groups,
      { key: "overdue", label: t("col_overdue"), title: t("col_overdue_hint"), value: (r) => r.overdue, show: (v) => fmt.count(v) },
      ...(current ? [{ key: "overdue_open", label: t("col_overdue_open"), value: (r) => r.overdue_open, show: (v) => fmt.count(v) }] : []),
    ];
  }

  render() {
    if (!this.report || !this.container.isConnected) return;
    document.getElementById("rankings-title").textContent = t("rankings_title", {
      level: fmt.levelName(this.level),
      period: fmt.monthName(this.report.period),
    });
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
      .sort((a, b) => nullLast(column.value(a), column.value(b), this.sort.dir) || nullLast(a.rank, b.rank, 1));
    table.querySelector("tbody").innerHTML = rows
      .map(
        (r) => `<tr data-unit="${fmt.escapeHtml(r.unit_id)}" data-rank="${r.rank ?? ""}" data-score="${r.score ?? "null"}" tabindex="0">${columns
          .map((c) => `<td data-col="${c.key}">${c.show(c.value(r))}</td>`)
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
