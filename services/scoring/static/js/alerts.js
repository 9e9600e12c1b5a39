// The alerts panel: firing alerts from the alerts service (its own origin, configured by ALERTS_PUBLIC_URL), kept
// fresh by its /v1/stream transitions. When that service is down or refuses CORS the panel says so and retries;
// the rest of the dashboard does not depend on it.
import { debounce } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

const RETRY_MS = 15000;
const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

export class AlertsPanel {
  constructor(element, baseUrl) {
    this.element = element;
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.unitId = null;
    this.alerts = null;
    this.available = null;
    this.source = null;
    this.retryTimer = null;
    this.scheduleRefresh = debounce(() => this.refresh(), 500);
  }

  start() {
    this.render();
    return this.refresh();
  }

  setScope(unitId) {
    if (unitId === this.unitId) return;
    this.unitId = unitId;
    this.alerts = null;
    this.render();
    this.refresh();
  }

  async refresh() {
    clearTimeout(this.retryTimer);
    if (!this.baseUrl) return this.unavailable();
    const url = new URL(`${this.baseUrl}/v1/alerts`);
    url.searchParams.set("state", "firing");
    if (this.unitId) {
      url.searchParams.set("unit_id", this.unitId);
      url.searchParams.set("subtree", "true");
    }
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, mode: "cors" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      this.alerts = body.items ?? [];
      this.available = true;
      this.render();
      this.listen();
    } catch {
      // A network error and a CORS refusal look the same to a page (TypeError): both mean "not reachable from here".
      this.unavailable();
    }
  }

  unavailable() {
    this.available = false;
    this.source?.close();
    this.source = null;
    this.render();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.refresh(), RETRY_MS);
  }

  listen() {
    if (this.source) return;
    const source = new EventSource(`${this.baseUrl}/v1/stream`);
    this.source = source;
    source.addEventListener("transition", () => this.scheduleRefresh());
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.unavailable();
      }
    });
  }

  render() {
    const title = t(this.unitId ? "alerts_unit_title" : "alerts_title");
    let body;
    if (this.available === false) {
      body = `<p class="alerts-unavailable" data-state="unavailable">${fmt.escapeHtml(t("alerts_unavailable"))}</p>`;
    } else if (this.alerts === null) {
      body = `<p class="muted">${t("loading")}</p>`;
    } else if (!this.alerts.length) {
      body = `<p class="muted" data-state="empty">${t("alerts_none")}</p>`;
    } else {
      const english = getLang() === "en";
      const sorted = [...this.alerts].sort(
        (a, b) => (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9) || String(b.fired_at).localeCompare(String(a.fired_at)),
      );
      body = `<ul class="alert-list">${sorted
        .map((a) => {
          const summary = (english && a.annotations?.summary_en) || a.annotations?.summary || a.rule_name || a.rule_id;
          const severity = a.severity ?? "info";
          return `<li class="alert sev-${fmt.escapeHtml(severity)}" data-alert="${a.id}">
            <span class="badge sev-${fmt.escapeHtml(severity)}">${fmt.escapeHtml(t(`severity_${severity}`))}</span>
            <a href="#/unit/${encodeURIComponent(a.unit_id)}">${fmt.escapeHtml(a.unit_name || a.unit_id)}</a>
            <p>${fmt.escapeHtml(summary)}</p>
            <p class="muted">${fmt.escapeHtml(t("since", { time: fmt.dateTime(a.fired_at || a.active_since) }))}</p></li>`;
        })
        .join("")}</ul>`;
    }
    const count = this.available && this.alerts ? ` <span class="count">${this.alerts.length}</span>` : "";
    this.element.innerHTML = `<h2>${title}${count}</h2>${body}`;
    this.element.dataset.state = this.available === false ? "unavailable" : this.alerts === null ? "loading" : "ok";
  }
}
