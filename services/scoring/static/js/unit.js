// A unit's page: score and rank, 12-month trend (Chart.js), group breakdown, live fields, overdue and due-soon lists.
import { ApiError, MonthView, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { PushedFigures, isEarlyMonth, renderGroups, renderMonthStart, renderTiles, scoreHead, summaryShape, withMessage } from "./widgets.js";
import { dossierHref, loadForecast, loadTodo } from "./forecast.js";
import { tx } from "./actions-i18n.js";
import { day, monthEmpty, monthStatus, reasonText, unitLink } from "./registry.js";

const LIST_LIMIT = 20;
const TREND = [
  { key: "progress_rate", label: "trend_progress", color: "#2e7d32" },
  { key: "on_time_rate", label: "trend_on_time", color: "#00838f" },
  { key: "online_rate", label: "trend_online", color: "#6a1b9a" },
  { key: "satisfaction_rate", label: "trend_satisfaction", color: "#ef6c00" },
];

/** Chart.js plugin: hatch the months in which the unit did not exist (options.plugins.absentMonths.absent[i]). */
const ABSENT_MONTHS = {
  id: "absentMonths",
  beforeDatasetsDraw(chart, _args, options) {
    const absent = options.absent ?? [];
    if (!absent.some(Boolean)) return;
    const { ctx, chartArea, scales } = chart;
    const step = absent.length > 1 ? scales.x.getPixelForValue(1) - scales.x.getPixelForValue(0) : chartArea.width;
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const pen = tile.getContext("2d");
    pen.strokeStyle = "rgba(96, 110, 128, .45)";
    pen.lineWidth = 1.5;
    pen.beginPath();
    pen.moveTo(0, 8);
    pen.lineTo(8, 0);
    pen.stroke();
    const hatch = ctx.createPattern(tile, "repeat");
    ctx.save();
    absent.forEach((gone, i) => {
      if (!gone) return;
      const centre = scales.x.getPixelForValue(i);
      const left = Math.max(chartArea.left, centre - step / 2);
      const width = Math.min(chartArea.right, centre + step / 2) - left;
      for (const fill of ["rgba(224, 229, 236, .55)", hatch]) {
        ctx.fillStyle = fill;
        ctx.fillRect(left, chartArea.top, width, chartArea.height);
      }
    });
    ctx.restore();
  },
};

export class UnitView extends MonthView {
  constructor(ctx, unitId) {
    super(ctx, 800);
    this.unitId = unitId;
    this.data = null;
    this.chart = null;
    this.pushed = new PushedFigures();
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
          <div class="registry" id="unit-registry"></div>
          <div id="unit-score"></div>
          <p class="month-start" id="month-start" data-testid="month-start" hidden></p>
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
        <p class="muted trend-note" id="trend-note" hidden></p>
        <details class="history"><summary>${t("history_table")}</summary><div class="table-wrap" id="history-table"></div></details>
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
      const [settled, behind] = this.pushed.settle(summaryShape(indicators));
      if (behind) this.scheduleRefresh();
      this.data = { indicators: settled, previous: summaryShape(previous), beforePrevious, history, overdue, dueSoon };
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
    const reason = reasonText(s.unranked_reason, this.ctx.profile?.min_dossiers);
    document.getElementById("unit-rank").textContent = s.rank
      ? t("unit_rank", { rank: s.rank, of: s.rank_of, level: fmt.levelName(s.level).toLowerCase() })
      : `${fmt.levelName(s.level)} · ${t("unit_unranked")}${reason ? ` — ${reason}` : ""}`;
    this.renderRegistry(unit);
    const isCurrent = this.period === this.ctx.currentPeriod();
    document.getElementById("unit-score").innerHTML = scoreHead(s.score, [d.previous, d.beforePrevious], isEarlyMonth(isCurrent));
    document.getElementById("unit-period").textContent = `— ${fmt.monthName(s.period)}`;
    renderGroups(document.getElementById("unit-groups"), s.groups, this.ctx.profile, getLang());
    renderMonthStart(document.getElementById("month-start"), s, isCurrent,
      (period) => `#/unit/${encodeURIComponent(this.unitId)}?period=${period}`);
    renderTiles(document.getElementById("unit-tiles"), s, d.previous, { isCurrent, asOf: s.live.as_of, minDossiers: this.ctx.profile?.min_dossiers,
      skip: new Set(["received_today"]) });
    this.renderList("overdue-list", "overdue-count", d.overdue, true);
    this.renderList("due-soon-list", "due-soon-count", d.dueSoon, false);
    this.renderChildren(unit);
    this.renderHistory(unit);
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

  /** Since when the unit exists, what it was merged into (a retired unit), what was merged into it. */
  renderRegistry(unit) {
    const lines = [];
    if (unit?.valid_from) lines.push(`<p data-registry="valid_from">${t("valid_from", { day: day(unit.valid_from) })}</p>`);
    if (unit?.valid_to) {
      const into = unit.successor_id ? unitLink(this.ctx, unit.successor_id) : "—";
      lines.push(`<p data-registry="merged_into">${t("merged_into")}: ${into} <span class="muted">(${fmt.escapeHtml(t("merged_on", { day: day(unit.valid_to) }))})</span></p>`);
    }
    if (unit?.predecessors?.length) {
      const from = unit.predecessors.map((id) => unitLink(this.ctx, id)).join(", ");
      lines.push(`<p data-registry="merged_from">${t("merged_from")}: ${from}</p>`);
    }
    document.getElementById("unit-registry").innerHTML = lines.join("");
  }

  /** The months of the chart as a table; months in which the unit did not exist are marked and explained. */
  renderHistory(unit) {
    const months = this.data.history.months;
    const notes = months.map((m) => this.monthNote(unit, m));
    const rows = months
      .map((m, i) => {
        const status = monthStatus(unit, m);
        const rate = (key) => fmt.percent(m.rates[key]);
        return `<tr data-period="${m.period}" data-exists="${m.exists !== false}" data-status="${status}"${status === "exists" ? "" : ' class="not-existing"'}>
          <td>${fmt.monthName(m.period)}</td><td class="note">${fmt.escapeHtml(notes[i] ?? "")}</td>
          <td>${m.score === null ? "—" : fmt.score(m.score)}</td>
          ${TREND.map((r) => `<td>${rate(r.key)}</td>`).join("")}<td>${fmt.count(m.counters?.progress_total)}</td></tr>`;
      })
      .reverse()
      .join("");
    document.getElementById("history-table").innerHTML = `<table class="history-table"><thead><tr>
      <th>${t("col_month")}</th><th class="note">${t("col_note")}</th><th>${t("col_score")}</th>
      ${TREND.map((r) => `<th>${t(r.label)}</th>`).join("")}<th>${t("col_in_play")}</th></tr></thead><tbody>${rows}</tbody></table>`;
    const before = months.filter((m) => monthStatus(unit, m) === "before");
    const after = months.filter((m) => monthStatus(unit, m) === "after");
    const note = document.getElementById("trend-note");
    const parts = [];
    if (before.length) {
      const from = unit?.predecessors?.length ? ` ${t("trend_note_predecessors", { units: unit.predecessors.map((id) => this.ctx.units.get(id)?.name ?? id).join(", ") })}` : "";
      parts.push(`${t("trend_note_before", { day: day(unit?.valid_from) })}${from}`);
    }
    if (after.length) parts.push(t("trend_note_after", { day: day(unit?.valid_to), unit: this.ctx.units.get(unit?.successor_id)?.name ?? unit?.successor_id ?? "—" }));
    note.hidden = !parts.length;
    note.textContent = parts.join(" ");
  }

  chartNote(index) {
    const month = this.data?.history.months[index];
    return month ? this.monthNote(this.ctx.units.get(this.unitId), month) : "";
  }

  monthNote(unit, month) {
    const status = monthStatus(unit, month);
    if (status === "before") return t(monthEmpty(month) ? "month_not_yet" : "month_before_figures");
    if (status === "after") return t("month_merged", { unit: this.ctx.units.get(unit?.successor_id)?.name ?? unit?.successor_id ?? "—" });
    return "";
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
    const absent = months.map((m) => m.exists === false);
    if (this.chart) {
      this.chart.options.plugins.absentMonths.absent = absent;
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
        plugins: {
          legend: { position: "bottom" },
          absentMonths: { absent },
          tooltip: { callbacks: { footer: (items) => this.chartNote(items[0]?.dataIndex) } },
        },
      },
      plugins: [ABSENT_MONTHS],
    });
  }

  onIndicators(message) {
    if (message.unit_id !== this.unitId || message.period !== this.period || !this.data) return;
    this.pushed.push(message);
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
