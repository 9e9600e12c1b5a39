// TTHC Pulse dashboard: hash routes (#/, #/rankings/<level>, #/unit/<id>, each with ?period=YYYY-MM), the live
// stream, the language toggle and the alerts panel. Everything it shows comes from the public scoring API.
import { getJSON, LiveStream } from "./api.js";
import { AlertsPanel } from "./alerts.js";
import { applyStatic, getLang, setLang, t } from "./i18n.js";
import * as fmt from "./format.js";
import { OverviewView } from "./overview.js";
import { RankingsView } from "./rankings.js";
import { UnitView } from "./unit.js";
import { DossierView, installLookup } from "./dossier.js";

// The months offered by the period choice: three years back covers the two-tier city and the old districts' last
// year (2025); an older month stays reachable by link (?period=YYYY-MM) and is added to the choice when opened.
const PERIOD_CHOICES = 36;

const ctx = {
  period: null, // null: the current month, live
  profile: null,
  units: new Map(),
  currentPeriod: () => fmt.currentPeriod(),
  href(path) {
    return `#${path}${this.period ? `?period=${this.period}` : ""}`;
  },
  showError(container, error, retry) {
    if (!container?.isConnected) return;
    const box = document.createElement("section");
    box.className = "card error";
    box.setAttribute("role", "alert");
    box.innerHTML = `<p>${fmt.escapeHtml(t("load_failed", { detail: error?.message ?? String(error) }))}</p><button type="button">${t("retry")}</button>`;
    box.querySelector("button").addEventListener("click", () => {
      box.remove();
      retry();
    });
    container.querySelector(".card.error")?.remove();
    container.prepend(box);
  },
};

const viewRoot = document.getElementById("view");
const periodInput = document.getElementById("period");
let view = null;
let alertsPanel = null;
let relabelLookup = null;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const params = new URLSearchParams(query);
  const period = params.get("period");
  return {
    parts: path.split("/").filter(Boolean).map(decodeURIComponent),
    period: /^\d{4}-\d{2}$/.test(period ?? "") ? period : null,
    alert: params.get("alert"), // #/unit/<id>?alert=<rule_id>: the alert of a notification link, highlighted
  };
}

/** The period choices, newest first, labelled in the page's language ("Tháng 12/2026"): a `<select>` rather than
 * `<input type="month">`, which Chromium labels in the browser's language whatever the page's ("December 2026"). */
function fillPeriods() {
  const current = ctx.currentPeriod();
  const chosen = ctx.period ?? current;
  const periods = Array.from({ length: PERIOD_CHOICES }, (_, back) => fmt.previousPeriod(current, back));
  if (!periods.includes(chosen)) periods.push(chosen); // an older month opened by a link
  periodInput.innerHTML = periods
    .map((p) => `<option value="${p}">${fmt.escapeHtml(t(p === current ? "period_option_current" : "period_option", { month: fmt.monthName(p) }))}</option>`)
    .join("");
  periodInput.value = chosen;
}

function route() {
  const { parts, period, alert } = parseHash();
  ctx.period = period && period !== ctx.currentPeriod() ? period : null;
  fillPeriods();
  view?.destroy?.();
  let name = "overview";
  if (parts[0] === "rankings") {
    name = "rankings";
    view = new RankingsView(ctx, parts[1]);
  } else if (parts[0] === "dossier" && parts[1]) {
    name = "dossier";
    view = new DossierView(ctx, parts[1]);
  } else if (parts[0] === "unit" && parts[1]) {
    name = "unit";
    view = new UnitView(ctx, parts[1]);
  } else {
    view = new OverviewView(ctx);
  }
  document.body.dataset.view = name;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === name);
    link.setAttribute("href", ctx.href(link.dataset.nav === "rankings" ? "/rankings/department" : "/"));
  }
  updateDownloads();
  alertsPanel?.setScope(name === "unit" ? parts[1] : null, name === "unit" ? alert : null);
  window.scrollTo(0, 0);
  view.mount(viewRoot);
}

function updateDownloads() {
  const period = ctx.period ?? ctx.currentPeriod();
  for (const link of document.querySelectorAll("[data-download]")) {
    link.href = `/v1/reports/monthly?period=${period}&format=${link.dataset.download}`;
  }
}

function setConnection(status) {
  const badge = document.getElementById("conn");
  badge.dataset.status = status;
  badge.textContent = t(`conn_${status}`);
}

function relabel() {
  document.documentElement.lang = getLang();
  applyStatic();
  fillPeriods();
  document.getElementById("lang").textContent = t("lang_toggle");
  const badge = document.getElementById("conn");
  if (badge.dataset.status) badge.textContent = t(`conn_${badge.dataset.status}`);
  relabelLookup?.();
  view?.relabel?.();
  alertsPanel?.render();
}

async function start() {
  document.documentElement.lang = getLang();
  relabel();
  const [config, profile, units] = await Promise.all([
    getJSON("/dashboard/config.json").catch(() => ({ alerts_url: "" })),
    getJSON("/v1/profile").catch(() => null),
    getJSON("/v1/units").catch(() => ({ items: [] })),
  ]);
  ctx.profile = profile;
  ctx.units = new Map(units.items.map((u) => [u.unit_id, u]));

  document.getElementById("lang").addEventListener("click", () => {
    setLang(getLang() === "vi" ? "en" : "vi");
    relabel();
  });
  periodInput.addEventListener("change", () => {
    const { parts } = parseHash();
    const chosen = /^\d{4}-\d{2}$/.test(periodInput.value) ? periodInput.value : null;
    const path = `/${parts.map(encodeURIComponent).join("/")}`;
    window.location.hash = `#${path}${chosen && chosen !== ctx.currentPeriod() ? `?period=${chosen}` : ""}`;
  });
  window.addEventListener("hashchange", route);
  relabelLookup = installLookup(ctx);

  alertsPanel = new AlertsPanel(document.getElementById("alerts"), config.alerts_url);
  alertsPanel.start();

  const stream = new LiveStream("/v1/stream", {
    events: ["indicators", "resync"],
    onStatus: setConnection,
    onEvent: (name, data) => (name === "indicators" ? view?.onIndicators?.(data) : view?.refresh?.()),
    onReconnect: () => view?.refresh?.(),
  });
  route();
  stream.open();
  window.tthcPulse = { ctx, stream }; // for people poking at the page (and the end-to-end tests)
}

start();
