// One dossier (#/dossier/<id>, GET /v1/dossiers/{id}): merged state, stored events, counters it is in; and the
// lookup box of the top bar.
import { ApiError, getJSON } from "./api.js";
import { tx } from "./actions-i18n.js";
import * as fmt from "./format.js";

const esc = fmt.escapeHtml;

export class DossierView {
  constructor(ctx, dossierId) {
    this.ctx = ctx;
    this.dossierId = dossierId;
    this.data = null;
  }

  mount(container) {
    this.container = container;
    container.innerHTML = `<section class="card"><p class="muted">…</p></section>`;
    return this.refresh();
  }

  async refresh() {
    try {
      this.data = await getJSON(`/v1/dossiers/${encodeURIComponent(this.dossierId)}`);
      this.render();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.container.innerHTML = `<section class="card" data-testid="dossier-unknown"><p>${esc(tx("d_unknown", { id: this.dossierId }))}</p></section>`;
        return;
      }
      this.ctx.showError(this.container, error, () => this.refresh());
    }
  }

  unitLink(ref) {
    if (!ref) return "—";
    return `<a href="${this.ctx.href(`/unit/${encodeURIComponent(ref.unit_id)}`)}">${esc(ref.name ?? ref.unit_id)}</a>`;
  }

  render() {
    const d = this.data;
    if (!d || !this.container.isConnected) return;
    const row = (label, value) => `<tr><th scope="row">${label}</th><td>${value}</td></tr>`;
    const status = `${tx(`s_${d.status}`)}${d.on_hold_now ? ` · ${tx("d_on_hold")}` : ""}`;
    const resolution = d.resolution
      ? `${fmt.dateTime(d.resolution.resolved_at)} · ${esc(d.resolution.outcome)} · ${tx(d.resolution.on_time ? "d_on_time" : "d_late")}${d.resolution.e_result ? " · e" : ""}`
      : "—";
    const holds = d.holds.length
      ? d.holds.map((h) => `${fmt.dateTime(h.start)} → ${h.end ? fmt.dateTime(h.end) : "…"}`).join("<br>")
      : "—";
    const receipt = d.receipt ? `${fmt.dateTime(d.receipt.received_at)} · ${esc(d.receipt.channel)}` : "—";
    const events = d.events
      .map((e) => {
        const { event_id: id, type, unit_id: unit, occurred_at: occurred, ingested_at: ingested, ...rest } = e;
        const details = Object.entries(rest)
          .map(([k, v]) => `${esc(k)}=${esc(k.endsWith("_at") ? fmt.dateTime(v) : v)}`)
          .join(", ");
        return `<tr><td>${esc(id)}</td><td>${esc(type)}</td><td>${esc(unit)}</td><td>${fmt.dateTime(occurred)}</td>
          <td>${fmt.dateTime(ingested)}</td><td>${details}</td></tr>`;
      })
      .join("");
    const counters = d.counters
      .map((c) => `<tr><td>${esc(c.month)}</td><td>${esc(c.counter)}</td><td>${esc(c.named_unit)}</td><td>${esc(c.counts_for)}</td><td class="num">${c.value}</td></tr>`)
      .join("");
    this.container.innerHTML = `
      <section class="card" data-testid="dossier">
        <h1 class="unit-title">${esc(tx("d_title", { id: d.dossier_id }))}</h1>
        <div class="table-wrap"><table class="facts"><tbody>
          ${row(tx("d_status"), `<span data-field="status">${esc(status)}</span>`)}
          ${row(tx("col_procedure"), esc(d.procedure_id ?? "—"))}
          ${row(tx("d_home"), this.unitLink(d.home_unit))}
          ${row(tx("d_counts_for"), this.unitLink(d.counts_for_today))}
          ${row(tx("d_received"), receipt)}
          ${row(tx("d_due"), `<span data-field="due">${fmt.dateTime(d.effective_due)}</span>`)}
          ${row(tx("d_resolved"), resolution)}
          ${row(tx("d_withdrawn"), d.withdrawal ? fmt.dateTime(d.withdrawal.withdrawn_at) : "—")}
          ${row(tx("d_holds"), holds)}
          ${row(tx("d_rating"), d.rating ? `${esc(d.rating.level)} · ${fmt.dateTime(d.rating.rated_at)}` : "—")}
        </tbody></table></div>
        <p class="muted">${esc(tx("d_correction", { month: d.current_month.month, n: d.current_month.progress_correction }))}</p>
      </section>
      <section class="card"><h2>${tx("d_events")} <span class="muted">(${d.events.length})</span></h2>
        <div class="table-wrap"><table class="plain" data-testid="dossier-events"><thead><tr><th>event_id</th><th>${tx("e_type")}</th>
          <th>${tx("e_unit")}</th><th>${tx("e_occurred")}</th><th>${tx("e_ingested")}</th><th>${tx("e_details")}</th></tr></thead>
          <tbody>${events}</tbody></table></div></section>
      <section class="card"><h2>${tx("d_counters")}</h2>
        <div class="table-wrap"><table class="plain" data-testid="dossier-counters"><thead><tr><th>${tx("c_month")}</th><th>${tx("c_counter")}</th>
          <th>${tx("c_named")}</th><th>${tx("c_counts_for")}</th><th>#</th></tr></thead><tbody>${counters}</tbody></table></div></section>`;
  }

  relabel() {
    this.render();
  }
}

/** The top bar's lookup form: opens #/dossier/<id>. */
export function installLookup(ctx) {
  const form = document.getElementById("dossier-lookup");
  if (!form) return;
  const input = form.querySelector("input");
  const label = () => {
    input.placeholder = tx("lookup_placeholder");
    input.setAttribute("aria-label", tx("lookup_label"));
    form.querySelector("button").textContent = tx("lookup_go");
  };
  label();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (id) window.location.hash = ctx.href(`/dossier/${encodeURIComponent(id)}`);
  });
  return label;
}
