// Live events from the hub: scans, scale weights, print jobs and pings, the connection state, and weighing:
// the hub takes each weighing from the register's scale (legal for trade); without a scale, weights are typed.
import { api, formatQtyUnit, newId, sentence, setText, toLogin } from "/static/common.js";
import { addLine, retryQuote } from "./register-cart.js";
import { renderReceipt, sendSale } from "./register-pay.js";
import { $, clearError, info, locked, registerId, showError, state } from "./register-state.js";
import { takeScan } from "./register-returns.js";
import { tenderScan } from "./register-tenders.js";

const RECONNECT_MIN_MS = 2000;
const RECONNECT_MAX_MS = 10000;
const PING_TIMEOUT_MS = 40000; // when the hub sends `ping` events: silence this long means a dead link
const SEEN_SCANS_MAX = 200;
const WEIGH_RETRY_MS = 2000;

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
  // the returns sheet, or a gift card being entered on the pay sheet, takes the scan
  if (seen(data.scan_id) || takeScan(data.code) || tenderScan(data.code)) return;
  // the AIM prefix goes with the code: a label's GS1 data reads only with it when the hub reads it again
  addLookup({ item: data.item, qty: data.qty, parsed: data.parsed, embedded_price_minor: data.embedded_price_minor }, (data.aim || "") + data.code);
}

function onScanError(data) {
  if (seen(data.scan_id) || takeScan(data.code) || tenderScan(data.code)) return; // a receipt or gift card code
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
    loadRegister();
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
  on("catalog", (d) => dispatchEvent(new CustomEvent("backroom:catalog", { detail: d }))); // register-offline.js
  on("cloud", (d) => dispatchEvent(new CustomEvent("backroom:cloud", { detail: d }))); // register-cloud.js
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

// The hub's refusals, in the cashier's words; any other comes in the hub's own words.
const REFUSALS = {
  scale_not_zeroed: "Take the item off the scale: it must show zero before the next weighing",
  weight_in_motion: "Hold the item still: the weight is settling",
  weight_not_positive: "Place the item on the scale",
  scale_offline: "The scale is offline: check its cable and power",
  scale_no_reading: "The scale has sent no weight yet: check that it is on",
  weight_over_capacity: "Too heavy for the scale: take something off",
  weight_under_zero: "The scale shows less than zero: empty it and zero it",
};

function usable(w) {
  return Boolean(w && w.stable && w.status === "ok" && w.grams > 0);
}

function isZero(w) {
  return Boolean(w && (w.status === "at_zero" || (w.stable && w.status === "ok" && w.grams === 0)));
}

/** Whether this register has a scale: asked when the stream opens, since the owner may bind or unbind one. */
async function loadRegister() {
  try {
    const reg = await api(`/api/v1/registers/${encodeURIComponent(registerId)}`);
    state.hasScale = Boolean(reg.has_scale);
  } catch {
    return; // keep what we knew; a weighing refused with no_scale also tells
  }
  renderWeight();
}

function onWeight(data) {
  state.weight = data;
  renderWeight();
  const w = state.weighing;
  if (!w) return;
  if (usable(data)) askWeighing();
  else if (w.refused && isZero(data)) weighPrompt(`Place the item on the scale: ${w.item.name}`);
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
  if (state.hasScale === false) text = "No scale on this register: weights are typed in and marked as manual";
  else if (w) text = SCALE_STATES[w.status] || (w.stable ? "Stable" : "Settling…");
  if (w?.tare_g) text += ` · tare ${formatQtyUnit(w.tare_g, "g")}`;
  setText($("scale-state"), text);
}

function weighPrompt(text, refused = "") {
  const box = $("weigh-prompt");
  setText($("weigh-text"), text);
  box.dataset.refused = refused;
  box.hidden = false;
  if (state.weighing) state.weighing.refused = refused;
}

/** A weighed item without a label: the hub weighs it on this register's scale, or, without one, it is typed. */
export function startWeighing(item) {
  cancelWeighing();
  if (state.hasScale === false) {
    askManualWeight(item);
    return;
  }
  state.weighing = { item, id: newId(), asking: false, refused: "", cancelled: false };
  weighPrompt(`Place the item on the scale: ${item.name}`);
  info("");
  if (usable(state.weight)) askWeighing();
}

/** Ask the hub to take the scale's reading; it refuses a reading that is not legal for trade. */
async function askWeighing() {
  const w = state.weighing;
  if (!w || w.asking) return;
  w.asking = true;
  const asked = state.weight;
  try {
    const taken = await api(`/api/v1/registers/${encodeURIComponent(registerId)}/weighings`,
      { method: "POST", body: { id: w.id } });
    w.asking = false;
    if (w.cancelled) return; // the cashier gave up on it; the weighing stays unused
    if (state.weighing === w) cancelWeighing();
    weighed(w.item, taken);
  } catch (err) {
    w.asking = false;
    if (w.cancelled || state.weighing !== w) return;
    if (err.code === "no_scale") {
      state.hasScale = false;
      renderWeight();
      cancelWeighing();
      askManualWeight(w.item);
      return;
    }
    if (err.uncertain) { // the hub may have taken it: the same id again can only give that weighing back
      weighPrompt(`${sentence(err.message)} Weighing ${w.item.name} again…`, "network");
      setTimeout(() => { if (state.weighing === w) askWeighing(); }, WEIGH_RETRY_MS);
      return;
    }
    weighPrompt(sentence(REFUSALS[err.code] || err.message), err.code || "error");
    if (usable(state.weight) && state.weight !== asked) askWeighing(); // the scale changed while we asked
  }
}

function weighed(item, taken) {
  const weight = { source: "scale", weighing_id: taken.id };
  if (locked()) { // a sale is being saved: this one goes to the next
    state.held.push({ weighed: { item, grams: taken.grams, weight } });
    info(`${item.name} will be added to the next sale: this one is being saved.`);
    return;
  }
  addLine(item, taken.grams, weight);
  info(`Added ${item.name}, ${formatQtyUnit(taken.grams, "g")}`);
}

export function cancelWeighing() {
  if (state.weighing) state.weighing.cancelled = true;
  state.weighing = null;
  $("weigh-prompt").hidden = true;
  state.manual = null;
  $("manual-weight").hidden = true;
}

// -- typed weights: only on a register without a scale (the hub refuses them elsewhere) ----------

function askManualWeight(item) {
  state.manual = item;
  setText($("manual-weight-text"), `Weight of ${item.name}`);
  $("manual-weight-input").value = "";
  $("manual-weight-input").removeAttribute("aria-invalid");
  $("manual-weight").hidden = false;
  $("manual-weight-input").focus();
  info("No scale on this register: type the weight in kg.");
}

/** "1,25" or "0.532" kg -> grams, in integers (never a float); null when it is not a weight. */
function parseKg(text) {
  const m = /^(\d{1,4})(?:[.,](\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const grams = Number(m[1]) * 1000 + Number((m[2] || "").padEnd(3, "0"));
  return grams > 0 ? grams : null;
}

function addManualWeight(event) {
  event.preventDefault();
  const item = state.manual;
  if (!item) return;
  const grams = parseKg($("manual-weight-input").value);
  if (grams === null) {
    $("manual-weight-input").setAttribute("aria-invalid", "true");
    showError("Type the weight in kg, for example 0.450");
    return;
  }
  clearError();
  cancelWeighing();
  addLine(item, grams, { source: "manual" });
  info(`Added ${item.name}, ${formatQtyUnit(grams, "g")} (manual weight)`);
  $("code-input").focus({ preventScroll: true });
}

export function wireWeighing() {
  $("weigh-cancel").addEventListener("click", cancelWeighing);
  $("manual-weight").addEventListener("submit", addManualWeight);
  $("manual-weight-cancel").addEventListener("click", cancelWeighing);
}
