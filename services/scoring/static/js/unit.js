// A unit's page: score and rank, 12-month trend (Chart.js), group breakdown, live fields, overdue and due-soon lists.
import { ApiError, debounce, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { renderGroups, renderTiles, scoreHead, summaryShape, withMessage } from "./widgets.js";
import { dossierHref, loadForecast, loadTodo } from "./forecast.js";
import { tx } from "./actions-i18n.js";

const LIST_LIMIT = 20;
const TREND = [
  { key: "progress_rate", label: "trend_progress", color: "#2e7d32" },
  { key: "on_time_rate", label: "trend_on_time", color: "#00838f" },
  { key: "online_rate", label: "trend_online", color: "#6a1b9a" },
  { key: "satisfaction_rate", label: "trend_satisfaction", color: "#ef6c00" },
];

export class UnitView {
  constructor(ctx, unitId) {
    this.ctx = ctx;
    this.unitId = unitId;
    this.data = null;
    this.chart = null;
    this.scheduleRefresh = debounce(() => this.refresh(), 800);
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
    this.chart?.destroy();
    this.chart = null;
    this.container.innerHTML = `
      <section class="card hero">
        <div class="score-block">
          <p class="crumbs" id="unit-parent"></p>
          <h1 class="unit-title" id="unit-name">${t("loading")}</h1>
          <p class="muted" id="unit-rank"></p>
          <div id="unit-score"></div>
        </div>
        <div>
          <h3>${t("groups_title")}</h3>
          <div class="groups" id="unit-groups"></div>
        </div>
      </section>
      <section class="card forecast" id="forecast-card"></section>
      <section class="card" id="todo-card"></section>
      <section class="card">
        <h2>${t("trend_title")}</h2>
        <div class="chart-box"><canvas id="trend-chart" aria-label="${t("trend_title")}" role="img"></canvas></div>
      </section>
      <section class="card">
        <h2>${t("fields_title")} <span class="muted" id="unit-period"></span></h2>
        <div class="tiles" id="unit-tiles"></div>
      </section>
      <section class="card"><h2>${t("overdue_list")} <span class="muted" id="overdue-count"></span></h2><div id="overdue-list"></div></section>
      <section class="card"><h2>${t("due_soon_list")} <span class="muted" id="due-soon-count"></span></h2><div id="due-soon-list"></div></section>
      <section class="card" id="children-card" hidden><h2>${t("sub_units")}</h2><ul class="children" id="children"></ul></section>`;
  }

  async refresh() {
    const period = this.period;
    const id = encodeURIComponent(this.unitId);
    try {
      const [indicators, previous, beforePrevious, history, overdue, dueSoon] = await Promise.all([
        getJSON(`/v1/units/${id}/indicators`, { period }),
        getJSON(`/v1/units/${id}/indicators`, { period: fmt.previousPeriod(period, 1) }),
        getJSON(`/v1/units/${id}/indicators`, { period: fmt.previousPeriod(period, 2) }),
        getJSON(`/v1/units/${id}/history`, { months: 12 }),
        getJSON(`/v1/units/${id}/dossiers`, { state: "overdue", limit: LIST_LIMIT }),
        getJSON(`/v1/units/${id}/dossiers`, { state: "due_soon", limit: LIST_LIMIT }),
      ]);
      if (period !== this.period) return;
      this.data = { indicators: summaryShape(indicators), previous: summaryShape(previous), beforePrevious, history, overdue, dueSoon };
      this.render();
      await this.loadActions();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.container.innerHTML = `<section class="card"><p>${fmt.escapeHtml(t("unknown_unit", { unit: this.unitId }))}</p></section>`;
        return;
      }
      this.ctx.showError(this.container, error, () => this.refresh());
    }
  }

  render() {
    const d = this.data;
    if (!d || !this.container.isConnected) return;
    const s = d.indicators;
    const unit = this.ctx.units.get(this.unitId);
    const parent = unit?.parent_id ? this.ctx.units.get(unit.parent_id) : null;
    document.getElementById("unit-parent").innerHTML = parent
      ? `${t("parent_unit")}: <a href="${this.ctx.href(parent.level === "city" ? "/" : `/unit/${encodeURIComponent(parent.unit_id)}`)}">${fmt.escapeHtml(parent.name)}</a>`
      : "";
    document.getElementById("unit-name").textContent = s.name;
    document.getElementById("unit-rank").textContent = s.rank
      ? t("unit_rank", { rank: s.rank, of: s.rank_of, level: fmt.levelName(s.level).toLowerCase() })
      : `${fmt.levelName(s.level)} · ${t("unit_unranked")}`;
    document.getElementById("unit-score").innerHTML = scoreHead(s.score, [d.previous, d.beforePrevious]);
    document.getElementById("unit-period").textContent = `— ${fmt.monthName(s.period)}`;
    renderGroups(document.getElementById("unit-groups"), s.groups, this.ctx.profile, getLang());
    const isCurrent = this.period === this.ctx.currentPeriod();
    renderTiles(document.getElementById("unit-tiles"), s, d.previous, { isCurrent, asOf: s.live.as_of, skip: new Set(["received_today"]) });
    this.renderList("overdue-list", "overdue-count", d.overdue, true);
    this.renderList("due-soon-list", "due-soon-count", d.dueSoon, false);
    this.renderChildren(unit);
    this.renderChart();
  }

  /** Month-end forecast (current month only) and today's to-do (always "now"): forecast.js. */
  async loadActions() {
    const forecastBox = document.getElementById("forecast-card");
    if (!forecastBox) return;
    const title = tx("fc_title", { period: fmt.monthName(this.ctx.currentPeriod()) });
    if (this.period === this.ctx.currentPeriod()) {
      await loadForecast(forecastBox, this.unitId, title);
    } else {
      forecastBox.innerHTML = `<h2>${fmt.escapeHtml(title)}</h2><p class="muted">${tx("fc_past")}</p>`;
    }
    await loadTodo(document.getElementById("todo-card"), this.ctx, this.unitId);
  }

  renderList(listId, countId, page, late) {
    const box = document.getElementById(listId);
    document.getElementById(countId).textContent = `(${fmt.count(late ? this.data.indicators.live.overdue_open : this.data.indicators.live.due_soon)})`;
    if (!page.items.length) {
      box.innerHTML = `<p class="muted">${t("list_empty")}</p>`;
      return;
    }
    const names = this.ctx.units;
    const rows = page.items
      .map((item) => {
        const days = late ? item.days_late : -item.days_late;
        return `<tr data-dossier="${fmt.escapeHtml(item.dossier_id)}">
          <td><a href="${dossierHref(this.ctx, item.dossier_id)}">${fmt.escapeHtml(item.dossier_id)}</a></td><td>${fmt.escapeHtml(item.procedure_id ?? "—")}</td>
          <td>${fmt.escapeHtml(names.get(item.unit_id)?.name ?? item.unit_id)}</td>
          <td>${fmt.dateTime(item.received_at)}</td><td>${fmt.dateTime(item.due_at)}</td>
          <td class="num ${late ? "bad" : ""}">${fmt.decimal(days, 1)}</td></tr>`;
      })
      .join("");
    const more = page.next_cursor ? `<p class="muted">${t("list_more", { shown: page.items.length })}</p>` : "";
    box.innerHTML = `<div class="table-wrap"><table class="dossiers"><thead><tr>
      <th>${t("col_dossier")}</th><th>${t("col_procedure")}</th><th>${t("col_home_unit")}</th><th>${t("col_received")}</th>
      <th>${t("col_due")}</th><th>${t(late ? "col_days_late" : "col_days_left")}</th></tr></thead><tbody>${rows}</tbody></table></div>${more}`;
  }

  renderChildren(unit) {
    const children = (unit?.children ?? []).map((id) => this.ctx.units.get(id)).filter(Boolean);
    const card = document.getElementById("children-card");
    card.hidden = !children.length;
    document.getElementById("children").innerHTML = children
      .map((c) => `<li><a href="${this.ctx.href(`/unit/${encodeURIComponent(c.unit_id)}`)}">${fmt.escapeHtml(c.name)}</a></li>`)
      .join("");
  }

  renderChart() {
    const canvas = document.getElementById("trend-chart");
    if (!window.Chart) {
      canvas.replaceWith(Object.assign(document.createElement("p"), { className: "muted", textContent: t("chart_unavailable") }));
      return;
    }
    const months = this.data.history.months;
    const labels = months.map((m) => fmt.monthName(m.period));
    const asPercent = (rate) => (rate === null ? null : rate * 100);
    const datasets = [
      { label: t("trend_score"), data: months.map((m) => m.score), borderColor: "#1f4e79", backgroundColor: "#1f4e79",
        borderWidth: 3, yAxisID: "y", spanGaps: true },
      ...TREND.map((r) => ({ label: t(r.label), data: months.map((m) => asPercent(m.rates[r.key])), borderColor: r.color,
        backgroundColor: r.color, borderWidth: 1.5, borderDash: [4, 3], yAxisID: "y", spanGaps: true })),
    ];
    if (this.chart) {
      this.chart.data.labels = labels;
      this.chart.data.datasets.forEach((set, i) => (set.data = datasets[i].data));
      this.chart.update("none");
      return;
    }
    this.chart = new window.Chart(canvas, {
      type: "line",
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v}` } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  onIndicators(message) {
    if (message.unit_id !== this.unitId || message.period !== this.period || !this.data) return;
    this.data.indicators = withMessage(this.data.indicators, message);
    this.render();
    this.scheduleRefresh();
  }

  relabel() {
    this.skeleton();
    this.render();
    this.loadActions().catch((error) => this.ctx.showError(this.container, error, () => this.refresh()));
  }

  destroy() {
    this.chart?.destroy();
  }
}
