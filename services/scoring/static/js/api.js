// The dashboard is a plain client of the scoring API: JSON reads and the /v1/stream server-sent events.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

export async function getJSON(path, params = {}, base = "") {
  const url = new URL(base + path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  // "no-cache": always revalidate with the server. The browser sends the cached body's ETag (If-None-Match) and a
  // 304 reuses that body, so unchanged figures cost a few bytes; and a refresh prompted by the live stream never gets
  // a body still "fresh" by its max-age but older than the change the stream announced.
  const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-cache" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/**
 * An EventSource that reports its state and comes back by itself.
 *
 * The browser retries a dropped stream on its own (the server sends `retry: 3000`) but gives up for good when a
 * reconnection attempt gets an HTTP error; then this class opens a new EventSource with capped backoff. Figures are
 * state, not a log: after any reconnection `onReconnect` tells the page to re-read the API.
 */
export class LiveStream {
  constructor(url, { onStatus = () => {}, onEvent = () => {}, onReconnect = () => {}, events = [] } = {}) {
    this.url = url;
    this.onStatus = onStatus;
    this.onEvent = onEvent;
    this.onReconnect = onReconnect;
    this.events = events;
    this.source = null;
    this.wasLost = false;
    this.backoffMs = 1000;
    this.timer = null;
    this.closed = false;
  }

  open() {
    this.closed = false;
    this.onStatus(this.wasLost ? "lost" : "connecting");
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("open", () => {
      this.backoffMs = 1000;
      this.onStatus("live");
      if (this.wasLost) {
        this.wasLost = false;
        this.onReconnect();
      }
    });
    source.addEventListener("error", () => {
      if (this.closed) return;
      this.wasLost = true;
      this.onStatus("lost");
      if (source.readyState === EventSource.CLOSED) this.#reopenLater();
    });
    for (const name of this.events) {
      source.addEventListener(name, (message) => {
        let data = null;
        try {
          data = JSON.parse(message.data);
        } catch {
          data = message.data;
        }
        this.onEvent(name, data);
      });
    }
  }

  #reopenLater() {
    this.source?.close();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 30000);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
  }
}

/** Call `fn` once, `waitMs` after the last of a burst of calls. */
export function debounce(fn, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}

/** A dashboard page of one month (the chosen one, else the current one). Subclasses draw skeleton() and load
 * refresh(); scheduleRefresh() coalesces the refreshes that notifications ask for within `refreshDelayMs`. */
export class MonthView {
  constructor(ctx, refreshDelayMs) {
    this.ctx = ctx;
    this.scheduleRefresh = debounce(() => this.refresh(), refreshDelayMs);
  }

  get period() {
    return this.ctx.period ?? this.ctx.currentPeriod();
  }

  mount(container) {
    this.container = container;
    this.skeleton();
    return this.refresh();
  }
}
