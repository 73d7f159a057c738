// Live events from the hub: scans, scale weights, print jobs and pings, the connection state, and weighing.
import { formatQtyUnit, sentence, setText, toLogin } from "/static/common.js";
import { addLine, retryQuote } from "./register-cart.js";
import { renderReceipt, sendSale } from "./register-pay.js";
import { $, info, registerId, showError, state } from "./register-state.js";

const RECONNECT_MIN_MS = 2000;
const RECONNECT_MAX_MS = 10000;
const PING_TIMEOUT_MS = 40000; // when the hub sends `ping` events: silence this long means a dead link
const SEEN_SCANS_MAX = 200;

// A scan goes through register.js, which sits above this module.
let addLookup = () => {};

export function wireStream(hooks) {
  ({ addLookup } = hooks);
}

function seen(scanId) {
  if (!scanId) return false;
  if (state.seenScans.includes(scanId)) return true;
  state.seenScans.push(scanId);
  if (state.seenScans.length > SEEN_SCANS_MAX) state.seenScans.shift();
  return false;
}

function onScan(data) {
  if (seen(data.scan_id)) return;
  addLookup({ item: data.item, qty: data.qty, parsed: data.parsed }, data.code);
}

function onScanError(data) {
  if (seen(data.scan_id)) return;
  showError(data.error?.message || `The code ${data.code} could not be read`);
}

function onJob(data) {
  state.jobs.set(data.job_id, data);
  if (state.jobs.size > 50) state.jobs.delete(state.jobs.keys().next().value);
  if (state.result?.receipt?.job_id === data.job_id) renderReceipt();
}

let sse = null;
let reconnectTimer = null;
let reconnectDelay = RECONNECT_MIN_MS;
let watchdog = null;
let pinged = false;

/** A Wi-Fi drop can leave a stream open but silent; if the hub sends pings, notice their absence. */
function alive() {
  clearTimeout(watchdog);
  if (pinged) watchdog = setTimeout(connect, PING_TIMEOUT_MS);
}

export function connect() {
  clearTimeout(reconnectTimer);
  clearTimeout(watchdog);
  sse?.close();
  const url = `/api/v1/registers/${encodeURIComponent(registerId)}/events`;
  sse = new EventSource(url);
  sse.onopen = () => {
    reconnectDelay = RECONNECT_MIN_MS;
    setConnection("connected");
    alive();
    retryQuote();
    if (state.pay?.pending && !state.pay.posting) sendSale();
  };
  sse.onerror = () => {
    setConnection("reconnecting");
    forgetWeight();
    if (sse.readyState === EventSource.CLOSED) diagnose(url); // the hub answered, but not with a stream
  };
  sse.addEventListener("ping", () => {
    pinged = true;
    alive();
  });
  const on = (name, handler) => sse.addEventListener(name, (e) => {
    alive();
    try {
      handler(JSON.parse(e.data));
    } catch (err) {
      console.error(`bad ${name} event`, err);
    }
  });
  on("scan", onScan);
  on("scan_error", onScanError);
  on("weight", onWeight);
  on("job", onJob);
}

/** EventSource hides the status of a refused stream: ask once with fetch, then decide. */
async function diagnose(url) {
  const ctl = new AbortController();
  let failure = null;
  try {
    const res = await fetch(url, { credentials: "same-origin", signal: ctl.signal, cache: "no-store" });
    if (res.status === 401) return toLogin();
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      failure = body?.error?.message || `the hub refused this register's events (HTTP ${res.status})`;
    }
  } catch {
    // the hub is down: keep retrying below
  } finally {
    ctl.abort();
  }
  if (failure) {
    setConnection("failed", sentence(failure));
    return;
  }
  reconnectTimer = setTimeout(connect, reconnectDelay);
  reconnectDelay = Math.min(RECONNECT_MAX_MS, reconnectDelay * 2);
}

export function setConnection(kind, message) {
  state.connected = kind === "connected";
  const badge = $("connection-state");
  badge.dataset.state = kind;
  const looks = { connected: ["Connected", "badge-ok"], reconnecting: ["Reconnecting…", "badge-warn"],
    failed: ["Not connected", "badge-bad"], connecting: ["Connecting…", "badge-off"] }[kind];
  setText(badge, looks[0]);
  badge.className = `badge conn ${looks[1]}`;
  const banner = $("banner");
  banner.hidden = kind === "connected" || kind === "connecting";
  banner.classList.toggle("banner-bad", kind === "failed");
  setText(banner, kind === "failed" ? message
    : "Connection to the hub lost, retrying… Scans from the scanner and the scale will show again once it is back.");
}

/** The browser says the network is back: price a cart that failed, and make sure the stream is open. */
export function networkBack() {
  retryQuote();
  if (sse?.readyState === EventSource.OPEN) setConnection("connected");
  else connect();
}

// -- the scale -----------------------------------------------------------------------------------

const SCALE_STATES = {
  motion: "Settling…", over_capacity: "Over capacity: take something off",
  under_zero: "Below zero: zero the scale", at_zero: "Empty", error: "Scale error: check the scale",
};

function usable(w) {
  return w && w.stable && w.status === "ok" && w.grams > 0 && !w.used;
}

function onWeight(data) {
  const prev = state.weight;
  const same = prev && prev.grams === data.grams && prev.stable === data.stable && prev.status === data.status;
  state.weight = { ...data, used: same ? prev.used : false };
  renderWeight();
  if (state.weighing && usable(state.weight)) takeWeight();
}

function forgetWeight() {
  state.weight = null; // the scale may change while we can't hear it
  renderWeight();
}

export function renderWeight() {
  const w = state.weight;
  const out = $("live-weight");
  let shown = "– kg";
  if (w) shown = w.grams < 0 ? `−${formatQtyUnit(-w.grams, "g")}` : formatQtyUnit(w.grams, "g");
  setText(out, shown);
  out.dataset.grams = w ? String(w.grams) : "";
  out.dataset.stable = String(Boolean(w?.stable));
  let text = "No reading yet";
  if (w) text = SCALE_STATES[w.status] || (w.stable ? "Stable" : "Settling…");
  if (w?.tare_g) text += ` · tare ${formatQtyUnit(w.tare_g, "g")}`;
  setText($("scale-state"), text);
}

export function startWeighing(item) {
  state.weighing = item;
  if (usable(state.weight)) {
    takeWeight();
    return;
  }
  setText($("weigh-text"), `Place the item on the scale: ${item.name}`);
  $("weigh-prompt").hidden = false;
  info("");
}

function takeWeight() {
  const item = state.weighing;
  const grams = state.weight.grams;
  state.weight.used = true; // one reading pays for one line: the next item needs its own weighing
  cancelWeighing();
  addLine(item, grams);
  info(`Added ${item.name}, ${formatQtyUnit(grams, "g")}`);
}

export function cancelWeighing() {
  state.weighing = null;
  $("weigh-prompt").hidden = true;
}
