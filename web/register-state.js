// The register page's shared state: which register, its storage keys, the sale in progress, the messages line.
import { sentence, setText } from "/static/common.js";

export const registerId = decodeURIComponent(location.pathname.split("/")[2] || "");
export const keys = {
  cart: `backroom.cart.${registerId}`,
  pending: `backroom.pending.${registerId}`,
  currency: "backroom.currency",
  lastRegister: "backroom.lastRegister",
};
export const $ = (id) => document.getElementById(id);

export const state = {
  currency: localStorage.getItem(keys.currency) || "",
  // {key, sku, name, unit, price_minor, qty}: qty in units, or grams for weighed items, which also
  // carry source "scale" (with weighing_id), "label" (with code) or "manual" (typed: no scale here)
  lines: [],
  weight: null, // latest reading from a scale on this register {device_id, grams, stable, status, tare_g}
  weighing: null, // an item waiting for the hub to weigh it: {item, id, asking, refused, cancelled}
  manual: null, // an item waiting for a typed weight (a register without a scale)
  hasScale: null, // whether a scale is bound to this register (null until the hub says)
  seenScans: [],
  tier: "retail", // the customer's price tier (member, wholesale), and a discount on the whole cart {percent_bp |
  cartDiscount: null, // amount_minor, reason}: register-discounts.js keeps both with the cart
  approvals: null, // manager approval tokens for this cart's discounts and overrides, asked at payment
  jobs: new Map(), // job results that arrived before (or after) their sale's answer
  held: [], // scans that came while a sale was being saved; added to the next sale
  pay: null, // {saleId, pending, posting}
  result: null,
  connected: false,
};

export function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/** A sale is on its way to the hub: the cart is frozen until it is saved or refused. */
export function locked() {
  return Boolean(state.pay?.pending);
}

// -- messages --------------------------------------------------------------------------------

export function showError(message) {
  const box = $("scan-error");
  setText(box.querySelector(".text"), sentence(message));
  box.hidden = false;
  setText($("scan-info"), "");
}

export function clearError() {
  $("scan-error").hidden = true;
}

export function info(text) {
  setText($("scan-info"), text);
}
