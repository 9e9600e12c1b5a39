// City overview for a month: score and groups, rank movements, the 11 live information fields.
import { MonthView, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { PushedFigures, isEarlyMonth, renderGroups, renderMonthStart, renderTiles, scoreHead, withMessage } from "./widgets.js";
import { loadForecast } from "./forecast.js";
import { tx } from "./actions-i18n.js";

const MOVER_LEVELS = ["department", "district", "commune"];
const MOVERS_EACH_WAY = 5;

export class OverviewView extends MonthView {
  constructor(ctx) {
    super(ctx, 800);
    this.summary = null;
    this.earlier = [];
    this.report = null;
    this.pushed = new PushedFigures();
  }

  get isCurrent() {
    return this.period === this.ctx.currentPeriod();
  }

  skeleton() {
    this.container.innerHTML = `
      <section class="card hero" aria-labelledby="city-score-title">
        <div class="score-block">
          <h2 id="city-score-title">${t("city_score")}</h2>
          <p class="unit-name" id="city-name"></p>
          <div id="city-score" data-testid="city-score"></div>
          <p class="muted" id="city-profile"></p>
          <p class="month-start" id="month-start" data-testid="month-start" hidden></p>
        </div>
        <div>
          <h3>${t("groups_title")}</h3>
          <div class="groups" id="city-groups"></div>
        </div>
      </section>
      <section class="card forecast" id="city-forecast" hidden></section>
      <section class="card" aria-labelledby="fields-title">
        <h2 id="fields-title">${t("fields_title")} <span class="muted" id="fields-period"></span></h2>
        <div class="tiles" id="tiles"><p class="muted">${t("loading")}</p></div>
      </section>
      <section class="card" aria-labelledby="movers-title">
        <h2 id="movers-title">${t("movers_title")}</h2>
        <div class="movers-levels" id="movers"></div>
      </section>`;
  }

  async refresh() {
    const period = this.period;
    try {
      const [summary, previous, beforePrevious, report] = await Promise.all([
        getJSON("/v1/summary", { period }),
        getJSON("/v1/summary", { period: fmt.previousPeriod(period, 1) }),
        getJSON("/v1/summary", { period: fmt.previousPeriod(period, 2) }),
        getJSON("/v1/reports/monthly", { period, format: "json" }),
      ]);
      if (period !== this.period) return; // the user moved on meanwhile
      const [settled, behind] = this.pushed.settle(summary);
      if (behind) this.scheduleRefresh();
      this.summary = settled;
      this.earlier = [previous, beforePrevious];
      this.report = report;
      this.render();
      await this.loadForecast();
    } catch (error) {
      this.ctx.showError(this.container, error, () => this.refresh());
    }
  }

  render() {
    const s = this.summary;
    if (!s || !this.container.isConnected) return;
    const lang = getLang();
    document.getElementById("city-name").textContent = s.name;
    document.getElementById("city-score").innerHTML = scoreHead(s.score, this.earlier, isEarlyMonth(this.isCurrent));
    document.getElementById("city-profile").textContent = `${t("profile")}: ${this.ctx.profile?.name ?? "—"} · ${t("period")} ${fmt.monthName(s.period)}`;
    document.getElementById("fields-period").textContent = `— ${fmt.monthName(s.period)}`;
    renderGroups(document.getElementById("city-groups"), s.groups, this.ctx.profile, lang);
    renderTiles(document.getElementById("tiles"), s, this.earlier[0], {
      isCurrent: this.isCurrent, asOf: s.live.as_of, minDossiers: this.ctx.profile?.min_dossiers });
    renderMonthStart(document.getElementById("month-start"), s, this.isCurrent, (period) => `#/?period=${period}`);
    this.renderMovers();
  }

  /** The city's month-end forecast (current month only): forecast.js. */
  async loadForecast() {
    const box = document.getElementById("city-forecast");
    if (!box || !this.summary?.unit_id) return;
    box.hidden = !this.isCurrent;
    if (this.isCurrent) await loadForecast(box, this.summary.unit_id, tx("fc_city_title"));
  }

  /**
   * The largest rank movements per level, MOVERS_EACH_WAY up and as many down. Only units ranked in both months
   * count: a rank is null for a unit with no data or fewer than min_dossiers dossiers in play (SPEC §5), and the
   * notice's rank change is null unless both ranks exist — so a commune with two dossiers never "jumps 500 places".
   */
  renderMovers() {
    const box = document.getElementById("movers");
    const ranked = (this.report?.items ?? []).filter((r) => r.rank !== null && Number.isInteger(r.rank_change_1) && r.rank_change_1 !== 0);
    const item = (r) => `<li data-unit="${fmt.escapeHtml(r.unit_id)}" data-change="${r.rank_change_1}">
          <a href="${this.ctx.href(`/unit/${encodeURIComponent(r.unit_id)}`)}">${fmt.escapeHtml(r.name)}</a>
          <span class="muted">${t("col_rank")} ${r.rank + r.rank_change_1} → ${r.rank}/${r.rank_of}</span>
          <span class="delta ${fmt.deltaClass(r.rank_change_1)}">${fmt.delta(r.rank_change_1, 0)}</span></li>`;
    const levels = MOVER_LEVELS.map((level) => {
      const ofLevel = ranked.filter((r) => r.level === level);
      const up = ofLevel.filter((r) => r.rank_change_1 > 0).sort((a, b) => b.rank_change_1 - a.rank_change_1 || a.rank - b.rank);
      const down = ofLevel.filter((r) => r.rank_change_1 < 0).sort((a, b) => a.rank_change_1 - b.rank_change_1 || a.rank - b.rank);
      if (!up.length && !down.length) return "";
      const list = (rows, way) => `<div><h4>${t(`movers_${way}`)}</h4>${rows.length
        ? `<ul class="movers ${way}">${rows.slice(0, MOVERS_EACH_WAY).map(item).join("")}</ul>`
        : `<p class="muted">—</p>`}</div>`;
      return `<div class="movers-level" data-level="${level}"><h3>${fmt.levelName(level)}</h3>
        <div class="movers-ways">${list(up, "up")}${list(down, "down")}</div></div>`;
    }).join("");
    box.innerHTML = `${levels || `<p class="muted none">${t("movers_none")}</p>`}
      <p class="muted movers-hint">${fmt.escapeHtml(t("movers_hint", { min: this.ctx.profile?.min_dossiers ?? 20 }))}</p>`;
  }

  onIndicators(message) {
    if (!this.isCurrent || message.period !== this.period) return;
    if (message.level === "city" && this.summary) {
      // Show the pushed figures at once; the debounced re-read fills in what the message does not carry.
      this.pushed.push(message);
      this.summary = withMessage(this.summary, message);
      this.render();
    }
    this.scheduleRefresh();
  }

  relabel() {
    this.skeleton();
    this.render();
    this.loadForecast().catch((error) => this.ctx.showError(this.container, error, () => this.refresh()));
  }
}
