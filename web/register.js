// The register: cart from scans (SSE and typed codes), weighed items from the scale, cash payment.
import {
  api, el, formatMoney, formatQtyUnit, getSession, moneyInputValue, newId, parseMoney,
  quickAmounts, sentence, setText, signOut, toLogin,
} from "/static/common.js";

const RECONNECT_MIN_MS = 2000;
const RECONNECT_MAX_MS = 10000;
const PING_TIMEOUT_MS = 40000; // when the hub sends `ping` events: silence this long means a dead link
const SALE_RETRY_MS = 5000;
const RECEIPT_WAIT_MS = 30000;
const SEEN_SCANS_MAX = 200;
const QUOTE_DEBOUNCE_MS = 150; // scans in a burst get one quote, asked once the burst is over

const registerId = decodeURIComponent(location.pathname.split("/")[2] || "");
const keys = {
  cart: `backroom.cart.${registerId}`,
  pending: `backroom.pending.${registerId}`,
  currency: "backroom.currency",
  lastRegister: "backroom.lastRegister",
};
const $ = (id) => document.getElementById(id);

const state = {
  currency: localStorage.getItem(keys.currency) || "",
  lines: [], // {key, sku, name, unit, price_minor, qty}: qty in units, or grams for weighed items
  weight: null, // latest reading from a scale on this register {device_id, grams, stable, status, used}
  weighing: null, // an item waiting for a stable weight
  seenScans: [],
  jobs: new Map(), // job results that arrived before (or after) their sale's answer
  held: [], // scans that came while a sale was being saved; added to the next sale
  pay: null, // {saleId, pending, posting}
  result: null,
  connected: false,
};

// -- storage ---------------------------------------------------------------------------------

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/** Every change to the cart's lines comes through here: keep it across reloads, and have it priced. */
function cartChanged() {
  if (state.lines.length) localStorage.setItem(keys.cart, JSON.stringify(state.lines));
  else localStorage.removeItem(keys.cart);
  quoteSoon();
}

// -- prices: the hub's quote is the only source of line totals, tax and the cart total ---------

const quote = {
  state: "empty", // "empty" (no lines), "pending", "ok" or "failed", always for the cart as it is now
  seq: 0, // the latest request's number: an answer to any earlier one is ignored
  timer: null,
  ctl: null, // aborts the request in flight when a newer one replaces it
  error: "",
  last: null, // the latest answer, with the cart it priced: {key, byLine, total_minor, tax_minor, ...}
};

/** The cart as the hub prices it: skus and quantities, in order. */
function cartKey(lines = state.lines) {
  return JSON.stringify(lines.map((l) => [l.sku, l.qty]));
}

/** The hub's total for the cart as it is now, or null while that is not known. */
function quotedTotal() {
  const q = quote.last;
  return quote.state === "ok" && q?.key === cartKey() ? q.total_minor : null;
}

/** The hub's pricing of this line, if its latest answer priced it at this quantity. */
function quotedLine(l) {
  const q = quote.last?.byLine.get(l.key);
  return q && q.sku === l.sku && q.qty === l.qty ? q : null;
}

function forgetQuote() {
  quote.seq++;
  quote.ctl?.abort();
  quote.ctl = null;
  clearTimeout(quote.timer);
}

function quoteSoon() {
  forgetQuote();
  quote.error = "";
  quote.state = state.lines.length ? "pending" : "empty";
  if (state.lines.length) quote.timer = setTimeout(askQuote, QUOTE_DEBOUNCE_MS);
}

async function askQuote() {
  forgetQuote();
  if (!state.lines.length) return;
  const seq = quote.seq;
  const ctl = (quote.ctl = new AbortController());
  const lines = state.lines.map((l) => ({ ...l }));
  quote.state = "pending";
  quote.error = "";
  renderTotals();
  renderPay();
  try {
    const data = await api("/api/v1/sales/quote", {
      method: "POST", body: { lines: lines.map((l) => ({ sku: l.sku, qty: l.qty })) }, signal: ctl.signal,
    });
    if (seq !== quote.seq) return;
    quote.last = { ...data, key: cartKey(lines), byLine: new Map(lines.map((l, i) => [l.key, data.lines[i]])) };
    quote.state = "ok";
    if (data.currency && data.currency !== state.currency) {
      state.currency = data.currency;
      localStorage.setItem(keys.currency, data.currency);
    }
  } catch (err) {
    if (seq !== quote.seq || err.name === "AbortError") return;
    quote.state = "failed";
    quote.error = refusal(err, lines);
  } finally {
    if (quote.ctl === ctl) quote.ctl = null;
  }
  renderLinePrices();
  renderTotals();
  renderPay();
}

/** After the link comes back: a quote that failed is asked again, with nothing for the cashier to do. */
function retryQuote() {
  if (quote.state === "failed") askQuote();
}

function locked() {
  return Boolean(state.pay?.pending);
}

function addLine(item, qty) {
  let line = item.unit === "each" ? state.lines.find((l) => l.sku === item.sku && l.unit === "each") : null;
  if (line) {
    line.qty += qty;
  } else {
    line = { key: newId(), sku: item.sku, name: item.name, unit: item.unit, price_minor: item.price_minor, qty };
    state.lines.push(line);
  }
  cartChanged();
  renderCart(line.key);
  renderPay();
}

/** A looked-up code (scan or typed): each items by units, weighed ones by label weight or the scale. */
function addLookup(found, code) {
  if (state.result) newSale();
  if (locked()) {
    state.held.push({ found, code });
    info(`${found.item.name} will be added to the next sale: this one is being saved.`);
    return;
  }
  const { item, qty, parsed } = found;
  if (!item.active) {
    showError(`${item.name} (${item.sku}) is switched off in the item master and can't be sold. Ask a manager.`);
    return;
  }
  clearError();
  if (item.unit === "each") {
    const n = Number.isInteger(qty) && qty > 0 ? qty : 1;
    addLine(item, n);
    info(n > 1 ? `Added ${n} × ${item.name} (case of ${n})` : `Added ${item.name}`);
  } else if (item.unit === "g" && parsed?.weight_g > 0) {
    addLine(item, parsed.weight_g); // a weight printed on the label
    info(`Added ${item.name}, ${formatQtyUnit(parsed.weight_g, "g")} from the label`);
  } else if (item.unit === "g") {
    startWeighing(item);
  } else {
    showError(`${item.name} is sold by volume (${item.unit}); this register can't sell it yet. Ask a manager.`);
  }
}

function changeQty(key, delta) {
  const line = state.lines.find((l) => l.key === key);
  if (!line || locked()) return;
  line.qty = Math.max(1, line.qty + delta);
  cartChanged();
  renderCart();
  renderPay();
}

function removeLine(key) {
  if (locked()) return;
  state.lines = state.lines.filter((l) => l.key !== key);
  cartChanged();
  renderCart();
  renderPay();
}

function renderCart(freshKey) {
  const list = $("cart-lines");
  list.replaceChildren(...state.lines.map((l) => cartLine(l, l.key === freshKey)));
  $("cart-empty").hidden = state.lines.length > 0;
  renderTotals();
  const units = state.lines.reduce((n, l) => n + (l.unit === "each" ? l.qty : 1), 0);
  setText($("cart-count"), units ? `${units} item${units === 1 ? "" : "s"}` : "No items");
  $("clear-cart").hidden = !state.lines.length;
  resetClear();
  if (freshKey) list.querySelector(`[data-key="${freshKey}"]`)?.scrollIntoView({ block: "nearest" });
}

/** The total, tax and pricing state under the cart; "…" until the hub has priced this very cart. */
function renderTotals() {
  const total = state.lines.length ? quotedTotal() : 0;
  const totalEl = $("cart-total");
  setText(totalEl, total === null ? (quote.state === "failed" ? "–" : "…") : formatMoney(total, state.currency));
  totalEl.dataset.minor = total === null ? "" : String(total);
  totalEl.dataset.state = quote.state;
  totalEl.setAttribute("aria-busy", String(quote.state === "pending"));
  let note = "";
  if (quote.state === "ok") {
    const tax = formatMoney(quote.last.tax_minor, state.currency);
    note = quote.last.prices_include_tax ? `Tax ${tax} (included in prices)` : `Tax ${tax} (added to prices)`;
  } else if (quote.state === "pending") {
    note = "Pricing…";
  } else if (quote.state === "failed") {
    note = quote.error;
  }
  for (const box of document.querySelectorAll(".quote-status")) {
    box.dataset.state = quote.state;
    setText(box.querySelector(".text"), note);
    box.querySelector(".retry").hidden = quote.state !== "failed";
  }
  // Open while pricing, so a quick tap isn't lost; the sheet waits for the quote before taking money.
  $("pay-cash").disabled = !state.lines.length || quote.state === "failed" || (total !== null && total <= 0);
}

/** A line's unit price and total as the hub quoted them; before that, the price from its lookup and "…". */
function linePrice(l) {
  const q = quotedLine(l);
  const price = formatMoney(q ? q.unit_price_minor : l.price_minor, state.currency);
  const plusTax = quote.last && !quote.last.prices_include_tax ? " + tax" : "";
  return {
    detail: l.unit === "each" ? `${price} each${plusTax}` : `${price} / ${l.unit === "ml" ? "l" : "kg"}${plusTax}`,
    total: q ? formatMoney(q.total_minor, state.currency) : quote.state === "failed" ? "–" : "…",
    minor: q ? String(q.total_minor) : "",
  };
}

/** An answer came: update the lines in place, so a running highlight or a focused button stays. */
function renderLinePrices() {
  for (const li of $("cart-lines").children) {
    const l = state.lines.find((x) => x.key === li.dataset.key);
    if (!l) continue;
    const p = linePrice(l);
    setText(li.querySelector(".detail"), p.detail);
    const total = li.querySelector(".total");
    setText(total, p.total);
    total.dataset.minor = p.minor;
    total.classList.toggle("unpriced", !p.minor);
  }
}

function cartLine(l, fresh) {
  const p = linePrice(l);
  const each = l.unit === "each";
  const qty = each
    ? el("div", { class: "qty" },
      el("button", { class: "btn", type: "button", "aria-label": `One less ${l.name}`, disabled: l.qty <= 1,
        onclick: () => changeQty(l.key, -1) }, "−"),
      el("span", { class: "count", "data-testid": "line-qty" }, l.qty),
      el("button", { class: "btn", type: "button", "aria-label": `One more ${l.name}`,
        onclick: () => changeQty(l.key, 1) }, "+"))
    : el("div", { class: "qty" }, el("span", { class: "weight", "data-testid": "line-qty" }, formatQtyUnit(l.qty, l.unit)));
  return el("li", {
    class: `cart-line${fresh ? " fresh" : ""}`, "data-testid": "cart-line",
    dataset: { sku: l.sku, key: l.key, qty: String(l.qty), unit: l.unit },
  },
  el("span", { class: "name" }, l.name),
  el("span", { class: "detail" }, p.detail),
  qty,
  el("span", { class: `total${p.minor ? "" : " unpriced"}`, "data-testid": "line-total", dataset: { minor: p.minor } }, p.total),
  el("button", { class: "btn remove", type: "button", "aria-label": `Remove ${l.name}`, title: "Remove",
    onclick: () => removeLine(l.key) }, "✕"));
}

let clearArmed = null;
function resetClear() {
  clearTimeout(clearArmed);
  clearArmed = null;
  setText($("clear-cart"), "Clear cart");
}

function clearCartTapped() {
  if (locked()) return;
  if (!clearArmed) { // two taps, so a stray touch never empties a full cart
    setText($("clear-cart"), "Tap again to clear");
    clearArmed = setTimeout(resetClear, 4000);
    return;
  }
  state.lines = [];
  cancelWeighing();
  cartChanged();
  renderCart();
}

// -- messages --------------------------------------------------------------------------------

function showError(message) {
  const box = $("scan-error");
  setText(box.querySelector(".text"), sentence(message));
  box.hidden = false;
  setText($("scan-info"), "");
}

function clearError() {
  $("scan-error").hidden = true;
}

function info(text) {
  setText($("scan-info"), text);
}

// -- codes typed or from a keyboard-wedge scanner --------------------------------------------

let lookups = Promise.resolve(); // one at a time, so items land in the order they were scanned

function submitCode(event) {
  event.preventDefault();
  const input = $("code-input");
  const code = input.value.trim();
  input.value = "";
  if (!code) return;
  lookups = lookups.then(async () => {
    try {
      addLookup(await api(`/api/v1/lookup?code=${encodeURIComponent(code)}`), code);
    } catch (err) {
      showError(err.message);
    }
  });
}

/** Keys typed while nothing has focus (a wedge scanner after a tap elsewhere) go to the code box. */
function routeKeys(event) {
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  if (!$("pay-sheet").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key.length === 1 || event.key === "Enter") {
    const input = $("code-input");
    if (event.key === "Enter" && !input.value) return;
    input.focus();
  }
}

// -- live events from the hub ------------------------------------------------------------------

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

function connect() {
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

function setConnection(kind, message) {
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

function renderWeight() {
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

function startWeighing(item) {
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

function cancelWeighing() {
  state.weighing = null;
  $("weigh-prompt").hidden = true;
}

// -- paying ------------------------------------------------------------------------------------

function openPay() {
  if (!state.lines.length || state.pay) return;
  state.pay = { saleId: newId(), pending: null, posting: false };
  $("tendered-input").value = "";
  payMessage(null);
  $("pay-sheet").hidden = false;
  renderPay();
  $("tendered-input").focus();
}

function closePay() {
  if (locked()) return;
  state.pay = null;
  $("pay-sheet").hidden = true;
}

function tendered() {
  return state.pay?.pending ? state.pay.pending.body.tenders[0].amount_minor : parseMoney($("tendered-input").value);
}

function renderPay() {
  if (!state.pay) return;
  const pending = state.pay.pending;
  // Only the hub's quote for this very cart is ever offered or accepted as the amount due.
  const total = pending ? pending.total : quotedTotal();
  const known = total !== null;
  setText($("pay-total"), known ? formatMoney(total, state.currency) : quote.state === "failed" ? "–" : "…");
  $("pay-quote").hidden = known;
  const given = tendered();
  const quick = $("quick");
  if (quick.dataset.total !== String(total)) {
    quick.dataset.total = String(total);
    quick.replaceChildren(...(known ? quickAmounts(total) : []).map((a, i) => el("button", {
      class: "btn", type: "button", dataset: { minor: String(a) },
      onclick: () => { $("tendered-input").value = moneyInputValue(a); renderPay(); },
    }, i === 0 ? `Exact ${formatMoney(a, state.currency)}` : formatMoney(a, state.currency))));
  }
  for (const b of quick.children) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.minor) === given));
    b.disabled = Boolean(pending);
  }
  const input = $("tendered-input");
  input.disabled = Boolean(pending);
  if (pending) input.value = moneyInputValue(given);
  const typed = input.value.trim();
  input.setAttribute("aria-invalid", String(Boolean(typed) && given === null));
  let change = "–";
  if (known && given !== null && given >= total) change = formatMoney(given - total, state.currency);
  else if (known && given !== null) change = `${formatMoney(total - given, state.currency)} short`;
  setText($("change-preview"), change);
  const button = $("complete-sale");
  button.disabled = state.pay.posting || (!pending && (!known || given === null || given < total || !state.lines.length));
  setText(button, state.pay.posting ? "Saving sale…" : pending ? "Try again" : "Complete sale");
  $("pay-back").disabled = Boolean(pending);
}

function payMessage(text, kind = "bad") {
  const box = $("pay-message");
  box.hidden = !text;
  box.className = `notice notice-${kind}`;
  setText(box, text || "");
}

/** The hub's reason in the cashier's words; a bad line is named by its item, not its index. */
function refusal(err, lines = state.lines) {
  if (err.code === "idempotency_conflict") {
    return "This sale was already saved with different contents. Check the last sale with a manager before taking the money again.";
  }
  const m = /^lines\[(\d+)\]/.exec(err.field || "");
  const line = m ? lines[Number(m[1])] : null;
  if (!line) return err.message;
  const named = err.message.replace(/^lines\[\d+\]\.sku '[^']*'/i, `${line.name} (${line.sku})`)
    .replace(/^line \d+: /i, `${line.name}: `);
  return `${named} Remove it from the cart, then try again.`;
}

function completeSale() {
  if (!state.pay || state.pay.posting) return;
  if (!state.pay.pending) {
    const given = tendered();
    const total = quotedTotal();
    if (total === null || given === null || given < total) return;
    // Frozen from here on: a retry must send these exact bytes, or the hub would see a different sale.
    state.pay.pending = {
      body: {
        id: state.pay.saleId, register_id: registerId,
        lines: state.lines.map((l) => ({ sku: l.sku, qty: l.qty })),
        tenders: [{ kind: "cash", amount_minor: given }],
      },
      lines: state.lines.map((l) => ({ ...l })),
      total,
    };
    localStorage.setItem(keys.pending, JSON.stringify(state.pay.pending));
  }
  sendSale();
}

let retryTimer = null;

async function sendSale() {
  const pay = state.pay;
  if (!pay?.pending || pay.posting) return;
  clearTimeout(retryTimer);
  pay.posting = true;
  payMessage(null);
  renderPay();
  try {
    const res = await api("/api/v1/sales", { method: "POST", body: pay.pending.body, full: true });
    pay.posting = false;
    // A replay (200) means an earlier try was saved: its print result may have come while we weren't listening.
    saleDone({ ...res.data, replayed: res.status === 200 });
  } catch (err) {
    pay.posting = false;
    if (err.uncertain || err.status === 401) {
      // The hub may have saved it: keep the same id and body, so a retry can only replay it.
      payMessage(`${err.status === 0 ? "The hub didn't answer." : sentence(err.message)} The sale is kept on this `
        + "tablet and will be sent again; it can never be charged twice.", "warn");
      retryTimer = setTimeout(sendSale, SALE_RETRY_MS);
    } else {
      // Refused for a reason the cashier can fix; nothing was saved, so the next try gets a fresh id.
      localStorage.removeItem(keys.pending);
      pay.pending = null;
      pay.saleId = newId();
      payMessage(refusal(err));
    }
    renderPay();
  }
}

function saleDone(sale) {
  localStorage.removeItem(keys.pending);
  if (sale.currency && sale.currency !== state.currency) {
    state.currency = sale.currency;
    localStorage.setItem(keys.currency, sale.currency);
  }
  state.pay = null;
  state.lines = [];
  cartChanged();
  state.result = sale;
  $("pay-sheet").hidden = true;
  renderCart();
  setText($("change-due"), formatMoney(sale.change_minor, sale.currency));
  setText($("sale-number"), sale.number);
  setText($("result-total"), formatMoney(sale.total_minor, sale.currency));
  setText($("result-paid"), formatMoney(sale.tendered_minor, sale.currency));
  renderReceipt();
  $("result-sheet").hidden = false;
  $("new-sale").focus();
  if (sale.receipt?.job_id) {
    setTimeout(() => { if (state.result?.id === sale.id) renderReceipt(true); }, RECEIPT_WAIT_MS);
  }
}

function renderReceipt(waitedLong = false) {
  const receipt = state.result?.receipt || {};
  const out = $("receipt-status");
  const job = receipt.job_id ? state.jobs.get(receipt.job_id) : null;
  let text;
  let kind = "";
  if (job) {
    text = job.ok ? "Receipt printed" : `Receipt failed: ${job.error || "the printer gave no reason"}`;
    kind = job.ok ? "ok" : "bad";
  } else if (receipt.status === "queued" && state.result.replayed) {
    text = "Receipt sent to the printer when the sale was first saved: check it came out";
  } else if (receipt.status === "queued") {
    text = waitedLong ? "Printing receipt... no answer from the printer yet: check it is on and has paper"
      : "Printing receipt...";
  } else if (receipt.status === "no_printer") {
    text = "No receipt printer is set up for this register";
  } else if (receipt.status === "failed") {
    text = "Receipt failed: the hub could not send it to the printer";
    kind = "bad";
  } else {
    text = "";
  }
  setText(out, text);
  out.className = `receipt-status ${kind}`;
  out.dataset.status = job ? (job.ok ? "printed" : "failed") : receipt.status || "";
}

function newSale() {
  state.result = null;
  $("result-sheet").hidden = true;
  clearError();
  info("");
  renderCart();
  const held = state.held.splice(0);
  for (const h of held) addLookup(h.found, h.code);
  $("code-input").focus({ preventScroll: true });
}

// -- start -----------------------------------------------------------------------------------

function restore() {
  const pending = load(keys.pending);
  if (pending?.body?.id && Array.isArray(pending.lines)) {
    // A sale was on its way when the page closed: show it and send it again, same id, same body.
    state.lines = pending.lines;
    quoteSoon();
    state.pay = { saleId: pending.body.id, pending, posting: false };
    $("pay-sheet").hidden = false;
    payMessage("Sending the sale from before the page reloaded…", "warn");
    renderCart();
    renderPay();
    sendSale();
    return;
  }
  const cart = load(keys.cart);
  if (Array.isArray(cart)) state.lines = cart.filter((l) => l && l.sku && Number.isInteger(l.qty) && l.qty > 0);
  quoteSoon();
  renderCart();
}

async function start() {
  setText($("register-id"), registerId);
  localStorage.setItem(keys.lastRegister, registerId);
  $("code-form").addEventListener("submit", submitCode);
  $("scan-error-dismiss").addEventListener("click", clearError);
  $("weigh-cancel").addEventListener("click", cancelWeighing);
  $("clear-cart").addEventListener("click", clearCartTapped);
  $("pay-cash").addEventListener("click", openPay);
  $("pay-back").addEventListener("click", closePay);
  $("tendered-input").addEventListener("input", renderPay);
  $("tendered-input").addEventListener("keydown", (e) => { if (e.key === "Enter") completeSale(); });
  $("pay-sheet").addEventListener("keydown", (e) => { if (e.key === "Escape") closePay(); });
  $("complete-sale").addEventListener("click", completeSale);
  for (const b of document.querySelectorAll(".quote-status .retry")) b.addEventListener("click", retryQuote);
  $("new-sale").addEventListener("click", newSale);
  $("sign-out").addEventListener("click", () => signOut());
  document.addEventListener("keydown", routeKeys);
  addEventListener("offline", () => setConnection("reconnecting"));
  addEventListener("online", () => {
    retryQuote();
    if (sse?.readyState === EventSource.OPEN) setConnection("connected");
    else connect();
  });
  restore();
  renderWeight();
  connect();
  try {
    const me = await getSession();
    setText($("cashier"), me.user || me.role);
    $("status-link").hidden = !["manager", "owner"].includes(me.role);
    if (me.store?.currency && me.store.currency !== state.currency) {
      state.currency = me.store.currency;
      localStorage.setItem(keys.currency, state.currency);
      renderCart();
    }
  } catch (err) {
    if (err.status !== 401) setText($("cashier"), "unknown");
  }
}

start();
