// The alerts panel: firing alerts from the alerts service (its own origin, configured by ALERTS_PUBLIC_URL), kept
// fresh by its /v1/stream transitions, grouped by unit (worst severity first), filtered by severity, paged. It shows
// which alerts are acknowledged or silenced, and lets the operator acknowledge an alert or silence it (or the whole
// unit) for 24 h: those calls need the admin token, asked once and kept in sessionStorage (gone when the tab
// closes). When the service is down or refuses CORS the panel says so and retries; the rest of the dashboard does
// not depend on it.
import { debounce } from "./api.js";
import { getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

const RETRY_MS = 15000;
const SEVERITIES = ["critical", "warning", "info"];
const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
export const UNITS_PER_PAGE = 8;
const SILENCE_HOURS = 24;
export const TOKEN_KEY = "tthc.alerts.adminToken";
export const OPERATOR_KEY = "tthc.alerts.operator";

// Panel-specific texts, Vietnamese first.
const TEXT = {
  vi: {
    all: "tất cả",
    ack: "Xác nhận",
    acked: "Đã xác nhận ({by})",
    silence: "Tắt 24 giờ",
    silence_unit: "Tắt cả đơn vị 24 giờ",
    silenced: "Đang tắt thông báo",
    page: "Trang {page}/{pages}",
    prev: "‹ Trước",
    next: "Sau ›",
    units: "{units} đơn vị",
    dossiers: "{count} hồ sơ",
    ask_token: "Mã quản trị (ADMIN_TOKEN) của dịch vụ cảnh báo — chỉ lưu trong tab này:",
    ask_name: "Tên người thao tác (ghi vào lịch sử cảnh báo):",
    silence_comment: "Tắt từ bảng điều khiển",
    denied: "Mã quản trị không đúng, hãy nhập lại.",
    failed: "Không thực hiện được: {error}",
    done_ack: "Đã xác nhận cảnh báo.",
    done_silence: "Đã tắt thông báo 24 giờ.",
  },
  en: {
    all: "all",
    ack: "Acknowledge",
    acked: "Acknowledged ({by})",
    silence: "Silence 24 h",
    silence_unit: "Silence unit 24 h",
    silenced: "Silenced",
    page: "Page {page}/{pages}",
    prev: "‹ Previous",
    next: "Next ›",
    units: "{units} units",
    dossiers: "{count} dossiers",
    ask_token: "Admin token (ADMIN_TOKEN) of the alerts service — kept in this tab only:",
    ask_name: "Operator name (recorded in the alert history):",
    silence_comment: "Silenced from the dashboard",
    denied: "Wrong admin token, please enter it again.",
    failed: "Could not do it: {error}",
    done_ack: "Alert acknowledged.",
    done_silence: "Notifications silenced for 24 h.",
  },
};

function tx(key, params = {}) {
  const text = (TEXT[getLang()] || TEXT.vi)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** Units with their firing alerts, worst severity first, then most alerts, then name; alerts by severity. */
export function groupByUnit(alerts, severity = null) {
  const units = new Map();
  for (const a of alerts) {
    if (severity && a.severity !== severity) continue;
    const group = units.get(a.unit_id) ?? { unitId: a.unit_id, unitName: a.unit_name || a.unit_id, alerts: [] };
    group.alerts.push(a);
    units.set(a.unit_id, group);
  }
  const rank = (a) => SEVERITY_ORDER[a.severity] ?? 9;
  const groups = [...units.values()];
  for (const g of groups) {
    g.alerts.sort((a, b) => rank(a) - rank(b) || String(b.fired_at).localeCompare(String(a.fired_at)));
    g.worst = rank(g.alerts[0]);
  }
  return groups.sort(
    (a, b) => a.worst - b.worst || b.alerts.length - a.alerts.length || a.unitName.localeCompare(b.unitName, "vi"),
  );
}

export class AlertsPanel {
  constructor(element, baseUrl) {
    this.element = element;
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.unitId = null;
    this.alerts = null;
    this.available = null;
    this.source = null;
    this.retryTimer = null;
    this.severity = null;
    this.page = 0;
    this.message = null;
    this.scheduleRefresh = debounce(() => this.refresh(), 500);
    element.addEventListener("click", (event) => this.onClick(event));
  }

  start() {
    this.render();
    return this.refresh();
  }

  setScope(unitId, focusRule = null) {
    this.focusRule = focusRule; // highlighted and scrolled into view once rendered (links in notifications)
    if (unitId === this.unitId) return this.render();
    this.unitId = unitId;
    this.alerts = null;
    this.page = 0;
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

  // --- operator actions (admin token) -------------------------------------------------------------------------

  credentials() {
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      token = (window.prompt(tx("ask_token")) || "").trim();
      if (!token) return null;
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    let operator = sessionStorage.getItem(OPERATOR_KEY);
    if (!operator) {
      operator = (window.prompt(tx("ask_name")) || "").trim();
      if (!operator) return null;
      sessionStorage.setItem(OPERATOR_KEY, operator);
    }
    return { token, operator };
  }

  async send(method, path, body) {
    const who = this.credentials();
    if (!who) return false;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      mode: "cors",
      headers: { Authorization: `Bearer ${who.token}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body(who.operator)),
    }).catch((error) => ({ ok: false, status: 0, error }));
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      this.say(tx("denied"), true);
      return false;
    }
    if (!response.ok) {
      let detail = response.error ? String(response.error) : `HTTP ${response.status}`;
      try {
        detail = (await response.json()).detail || detail;
      } catch {
        /* not JSON */
      }
      this.say(tx("failed", { error: detail }), true);
      return false;
    }
    return true;
  }

  async acknowledge(alertId) {
    if (await this.send("POST", `/v1/alerts/${alertId}/ack`, (by) => ({ by }))) {
      this.say(tx("done_ack"));
      await this.refresh();
    }
  }

  async silence(matchers) {
    const endsAt = new Date(Date.now() + SILENCE_HOURS * 3600 * 1000).toISOString();
    const body = (author) => ({ matchers, ends_at: endsAt, comment: tx("silence_comment"), author });
    if (await this.send("POST", "/v1/silences", body)) {
      this.say(tx("done_silence"));
      await this.refresh();
    }
  }

  say(text, isError = false) {
    this.message = { text, isError };
    this.render();
  }

  onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.element.contains(button)) return;
    const { action } = button.dataset;
    if (action === "severity") {
      this.severity = button.dataset.severity || null;
      this.page = 0;
      this.render();
    } else if (action === "page") {
      this.page += Number(button.dataset.step);
      this.render();
    } else if (action === "ack") {
      this.acknowledge(button.dataset.alert);
    } else if (action === "silence") {
      const { rule, unit } = button.dataset;
      this.silence([{ name: "alertname", op: "=", value: rule }, { name: "unit_id", op: "=", value: unit }]);
    } else if (action === "silence-unit") {
      this.silence([{ name: "unit_id", op: "=", value: button.dataset.unit }]);
    }
  }

  // --- rendering ---------------------------------------------------------------------------------------------

  renderAlert(a) {
    const english = getLang() === "en";
    const summary = (english && a.annotations?.summary_en) || a.annotations?.summary || a.rule_name || a.rule_id;
    const severity = a.severity ?? "info";
    const silenced = (a.silenced_by ?? []).length > 0;
    const tags = [];
    if (a.acknowledged_at) tags.push(`<span class="tag acked" data-tag="acked">${fmt.escapeHtml(tx("acked", { by: a.acknowledged_by || "—" }))}</span>`);
    if (silenced) tags.push(`<span class="tag silenced" data-tag="silenced">${fmt.escapeHtml(tx("silenced"))}</span>`);
    if (a.dossier_count) tags.push(`<span class="tag">${fmt.escapeHtml(tx("dossiers", { count: a.dossier_count }))}</span>`);
    const actions = [];
    if (!a.acknowledged_at) actions.push(`<button type="button" data-action="ack" data-alert="${a.id}">${fmt.escapeHtml(tx("ack"))}</button>`);
    if (!silenced) {
      actions.push(
        `<button type="button" data-action="silence" data-rule="${fmt.escapeHtml(a.rule_id)}" data-unit="${fmt.escapeHtml(a.unit_id)}">${fmt.escapeHtml(tx("silence"))}</button>`,
      );
    }
    const state = [a.acknowledged_at ? "acked" : "", silenced ? "silenced" : ""].filter(Boolean).join(" ");
    const focus = this.focusRule && a.rule_id === this.focusRule ? " focused" : "";
    return `<li class="alert sev-${fmt.escapeHtml(severity)}${state ? ` ${state}` : ""}${focus}" data-alert="${a.id}" data-rule="${fmt.escapeHtml(a.rule_id)}" data-severity="${fmt.escapeHtml(severity)}">
      <span class="badge sev-${fmt.escapeHtml(severity)}">${fmt.escapeHtml(t(`severity_${severity}`))}</span> ${tags.join(" ")}
      <p>${fmt.escapeHtml(summary)}</p>
      <p class="muted">${fmt.escapeHtml(t("since", { time: fmt.dateTime(a.fired_at || a.active_since) }))}</p>
      <div class="alert-actions">${actions.join("")}</div></li>`;
  }

  renderGroup(g) {
    const counts = SEVERITIES.map((s) => [s, g.alerts.filter((a) => a.severity === s).length])
      .filter(([, n]) => n)
      .map(([s, n]) => `<span class="badge sev-${s}">${n} ${fmt.escapeHtml(t(`severity_${s}`))}</span>`)
      .join(" ");
    return `<section class="alert-unit" data-unit="${fmt.escapeHtml(g.unitId)}">
      <header><a href="#/unit/${encodeURIComponent(g.unitId)}">${fmt.escapeHtml(g.unitName)}</a> ${counts}
        <button type="button" class="link" data-action="silence-unit" data-unit="${fmt.escapeHtml(g.unitId)}">${fmt.escapeHtml(tx("silence_unit"))}</button></header>
      <ul class="alert-list">${g.alerts.map((a) => this.renderAlert(a)).join("")}</ul></section>`;
  }

  renderList() {
    const chips = [null, ...SEVERITIES]
      .map((s) => {
        const n = s ? this.alerts.filter((a) => a.severity === s).length : this.alerts.length;
        const label = s ? t(`severity_${s}`) : tx("all");
        const pressed = (this.severity ?? null) === s;
        return `<button type="button" class="chip" data-action="severity" data-severity="${s ?? ""}" aria-pressed="${pressed}">${fmt.escapeHtml(label)} ${n}</button>`;
      })
      .join("");
    const groups = groupByUnit(this.alerts, this.severity);
    const pages = Math.max(1, Math.ceil(groups.length / UNITS_PER_PAGE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const shown = groups.slice(this.page * UNITS_PER_PAGE, (this.page + 1) * UNITS_PER_PAGE);
    const pager =
      pages > 1
        ? `<nav class="alert-pager"><button type="button" data-action="page" data-step="-1" ${this.page === 0 ? "disabled" : ""}>${fmt.escapeHtml(tx("prev"))}</button>
          <span data-page="${this.page + 1}">${fmt.escapeHtml(tx("page", { page: this.page + 1, pages }))} · ${fmt.escapeHtml(tx("units", { units: groups.length }))}</span>
          <button type="button" data-action="page" data-step="1" ${this.page >= pages - 1 ? "disabled" : ""}>${fmt.escapeHtml(tx("next"))}</button></nav>`
        : "";
    return `<div class="alert-filters">${chips}</div>${shown.map((g) => this.renderGroup(g)).join("")}${pager}`;
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
      body = this.renderList();
    }
    const note = this.message
      ? `<p class="alert-message${this.message.isError ? " error" : ""}" role="status">${fmt.escapeHtml(this.message.text)}</p>`
      : "";
    const count = this.available && this.alerts ? ` <span class="count">${this.alerts.length}</span>` : "";
    this.element.innerHTML = `<h2>${title}${count}</h2>${note}${body}`;
    this.element.dataset.state = this.available === false ? "unavailable" : this.alerts === null ? "loading" : "ok";
    this.element.querySelector("li.alert.focused")?.scrollIntoView({ block: "nearest" });
  }
}
