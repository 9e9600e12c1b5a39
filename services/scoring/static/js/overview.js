// City overview for a month: score and groups, rank movements, the 11 live information fields.
import { debounce, getJSON } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { renderGroups, renderTiles, scoreHead, withMessage } from "./widgets.js";
import { loadForecast } from "./forecast.js";
import { tx } from "./actions-i18n.js";

export class OverviewView {
  constructor(ctx) {
    this.ctx = ctx;
    this.summary = null;
    this.earlier = [];
    this.report = null;
    this.scheduleRefresh = debounce(() => this.refresh(), 800);
  }

  get period() {
    return this.ctx.period ?? this.ctx.currentPeriod();
  }

  get isCurrent() {
    return this.period === this.ctx.currentPeriod();
  }

  mount(container) {
    this.container = container;
    this.skeleton();
    return this.refresh();
  }

  skeleton() {
    this.container.innerHTML = `
      <section class="card hero" aria-labelledby="city-score-title">
        <div class="score-block">
          <h2 id="city-score-title">${t("city_score")}</h2>
          <p class="unit-name" id="city-name"></p>
          <div id="city-score" data-testid="city-score"></div>
          <p class="muted" id="city-profile"></p>
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
        <ul class="movers" id="movers"></ul>
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
      this.summary = summary;
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
    document.getElementById("city-score").innerHTML = scoreHead(s.score, this.earlier);
    document.getElementById("city-profile").textContent = `${t("profile")}: ${this.ctx.profile?.name ?? "—"} · ${t("period")} ${fmt.monthName(s.period)}`;
    document.getElementById("fields-period").textContent = `— ${fmt.monthName(s.period)}`;
    renderGroups(document.getElementById("city-groups"), s.groups, this.ctx.profile, lang);
    renderTiles(document.getElementById("tiles"), s, this.earlier[0], { isCurrent: this.isCurrent, asOf: s.live.as_of });
    this.renderMovers();
  }

  /** The city's month-end forecast (current month only): forecast.js. */
  async loadForecast() {
    const box = document.getElementById("city-forecast");
    if (!box || !this.summary?.unit_id) return;
    box.hidden = !this.isCurrent;
    if (this.isCurrent) await loadForecast(box, this.summary.unit_id, tx("fc_city_title"));
  }

  renderMovers() {
    const list = document.getElementById("movers");
    const moved = (this.report?.items ?? [])
      .filter((r) => r.rank_change_1)
      .sort((a, b) => Math.abs(b.rank_change_1) - Math.abs(a.rank_change_1) || a.rank - b.rank)
      .slice(0, 8);
    if (!moved.length) {
      list.innerHTML = `<li class="muted none">${t("movers_none")}</li>`;
      return;
    }
    list.innerHTML = moved
      .map((r) => {
        const css = fmt.deltaClass(r.rank_change_1);
        return `<li><a href="#/unit/${encodeURIComponent(r.unit_id)}">${fmt.escapeHtml(r.name)}</a>
          <span class="muted">${fmt.levelName(r.level)} · ${t("col_rank")} ${r.rank}/${r.rank_of}</span>
          <span class="delta ${css}">${fmt.delta(r.rank_change_1, 0)}</span></li>`;
      })
      .join("");
  }

  onIndicators(message) {
    if (!this.isCurrent || message.period !== this.period) return;
    if (message.level === "city" && this.summary) {
      // Show the pushed figures at once; the debounced re-read fills in what the message does not carry.
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
