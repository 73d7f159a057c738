// The cart: its lines, kept across reloads, and their prices as the hub quotes them.
import { el, formatMoney, formatQtyUnit, newId, setText } from "/static/common.js";
import { priceCart } from "./register-offline.js";
import { $, keys, locked, state } from "./register-state.js";

const QUOTE_DEBOUNCE_MS = 150; // scans in a burst get one quote, asked once the burst is over

// The pay sheet and the scale sit above the cart, which must not import them: register.js hands them in.
let renderPay = () => {};
let cancelWeighing = () => {};

export function wireCart(hooks) {
  ({ renderPay, cancelWeighing } = hooks);
}

/** Every change to the cart's lines comes through here: keep it across reloads, and have it priced. */
export function cartChanged() {
  if (state.lines.length) localStorage.setItem(keys.cart, JSON.stringify(state.lines));
  else localStorage.removeItem(keys.cart);
  quoteSoon();
}

// -- prices: the hub's quote is the only source of line totals, tax and the cart total ---------

export const quote = {
  state: "empty", // "empty" (no lines), "pending", "ok" or "failed", always for the cart as it is now
  seq: 0, // the latest request's number: an answer to any earlier one is ignored
  timer: null,
  ctl: null, // aborts the request in flight when a newer one replaces it
  error: "",
  last: null, // the latest answer, with the cart it priced: {key, byLine, total_minor, tax_minor, ...}
};

/** The cart as the hub prices it: skus, quantities and adjustments, in order, with the tier and cart discount. */
function cartKey(lines = state.lines) {
  return JSON.stringify([cartFields(), lines.map((l) => [l.sku, l.qty, lineExtras(l)])]);
}

/** What a line adds to its sku and qty: modifiers, a discount, a price override (register-discounts.js). */
export function lineExtras(l) {
  const extra = {};
  if (l.modifiers?.length) extra.modifiers = l.modifiers;
  if (l.discount) extra.discount = l.discount;
  if (l.price_override) extra.price_override = l.price_override;
  return extra;
}

/** The cart's own fields in a quote or sale: the customer's price tier and a cart discount. */
export function cartFields() {
  const fields = {};
  if (state.tier && state.tier !== "retail") fields.tier = state.tier;
  if (state.cartDiscount) fields.cart_discount = state.cartDiscount;
  return fields;
}

// register-discounts.js and register-parked.js listen here: after every render, and when a cart is voided
export const cartHooks = { rendered: [], voided: [] };

/** The hub's total for the cart as it is now, or null while that is not known. */
export function quotedTotal() {
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

export function quoteSoon() {
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
    // the hub's quote; while it is out of reach, the same shape priced from this tablet's catalog
    const data = await priceCart({ lines: lines.map(lineBody), ...cartFields() }, // a label line's price is its label's
      ctl.signal);
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

/** A cart line as the hub takes it in a sale: a weighed line names its weighing or its label. */
export function lineBody(l) {
  const body = { sku: l.sku, qty: l.qty, ...lineExtras(l) };
  if (l.weighing_id) body.weighing_id = l.weighing_id;
  else if (l.code) body.code = l.code;
  return body;
}

const SOURCE_TEXT = { scale: "weighed", label: "from label", manual: "manual weight" };

/** After the link comes back: a quote that failed is asked again, with nothing for the cashier to do. */
export function retryQuote() {
  if (quote.state === "failed") askQuote();
}

/** weight: for a weighed item, where its grams came from: {source: "scale", weighing_id} | {source: "label", code} | {source: "manual"};
 * for an each item, {code, label_price_minor} when a scale's price label priced this one pack (its own line: the hub reads it again). */
export function addLine(item, qty, weight = {}) {
  let line = item.unit === "each" && !weight.code
    ? state.lines.find((l) => l.sku === item.sku && l.unit === "each" && !l.modifiers?.length && !l.price_override
      && !l.code) : null;
  if (line) {
    line.qty += qty;
  } else {
    line = { key: newId(), sku: item.sku, name: item.name, unit: item.unit, price_minor: item.price_minor, qty, ...weight };
    state.lines.push(line);
  }
  cartChanged();
  renderCart(line.key);
  renderPay();
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

export function renderCart(freshKey) {
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
  for (const hook of cartHooks.rendered) hook(quote);
}

/** A line's unit price and total as the hub quoted them; before that, the price from its lookup and "…". */
function linePrice(l) {
  const q = quotedLine(l);
  const price = formatMoney(q ? q.unit_price_minor : l.label_price_minor ?? l.price_minor, state.currency);
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
  const qty = each && l.code // one pack at its label's price: scan the next pack's own label
    ? el("div", { class: "qty" }, el("span", { class: "count", "data-testid": "line-qty" }, l.qty),
      el("span", { class: "weight-source muted", "data-testid": "price-source", dataset: { source: "label" } },
        "price from label"))
    : each
    ? el("div", { class: "qty" },
      el("button", { class: "btn", type: "button", "aria-label": `One less ${l.name}`, disabled: l.qty <= 1,
        onclick: () => changeQty(l.key, -1) }, "−"),
      el("span", { class: "count", "data-testid": "line-qty" }, l.qty),
      el("button", { class: "btn", type: "button", "aria-label": `One more ${l.name}`,
        onclick: () => changeQty(l.key, 1) }, "+"))
    : el("div", { class: "qty" }, el("span", { class: "weight", "data-testid": "line-qty" }, formatQtyUnit(l.qty, l.unit)),
      l.source && el("span", { class: `weight-source ${l.source === "manual" ? "badge badge-warn" : "muted"}`,
        "data-testid": "weight-source", dataset: { source: l.source } }, SOURCE_TEXT[l.source] || l.source));
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
  setText($("clear-cart"), "Void cart");
}

export function clearCartTapped() {
  if (locked()) return;
  if (!clearArmed) { // two taps, so a stray touch never empties a full cart
    setText($("clear-cart"), "Tap again to void");
    clearArmed = setTimeout(resetClear, 4000);
    return;
  }
  const voided = state.lines;
  state.lines = [];
  cancelWeighing();
  cartChanged();
  renderCart();
  for (const hook of cartHooks.voided) hook(voided);
}

/** The hub's reason in the cashier's words; a bad line is named by its item, not its index. */
export function refusal(err, lines = state.lines) {
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
