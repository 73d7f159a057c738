// The register: cart from scans (SSE and typed codes), weighed items from the scale, cash payment.
// This module starts the page and wires the others: register-state, -cart, -pay and -stream.
import { api, formatQtyUnit, getSession, setText, signOut } from "/static/common.js";
import {
  addLine, clearCartTapped, quoteSoon, renderCart, retryQuote, wireCart,
} from "./register-cart.js";
import {
  closePay, completeSale, newSale, openPay, payMessage, renderPay, sendSale, wirePay,
} from "./register-pay.js";
import {
  $, clearError, info, keys, load, locked, registerId, showError, state,
} from "./register-state.js";
import {
  cancelWeighing, connect, networkBack, renderWeight, setConnection, startWeighing, wireStream,
} from "./register-stream.js";

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
  addEventListener("online", networkBack);
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

wireCart({ renderPay, cancelWeighing });
wirePay({ addLookup });
wireStream({ addLookup });
start();
