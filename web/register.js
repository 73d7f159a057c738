// The register: cart from scans (SSE and typed codes), weighed items weighed by the hub, cash payment.
// This module starts the page and wires the others: register-state, -cart, -pay and -stream.
import { formatMoney, formatQtyUnit, getSession, setText, signOut } from "/static/common.js";
import {
  addLine, clearCartTapped, quoteSoon, renderCart, retryQuote, wireCart,
} from "./register-cart.js";
import {
  closePay, completeSale, newSale, reprint, openPay, payMessage, renderPay, sendSale, wirePay,
} from "./register-pay.js";
import {
  $, clearError, info, keys, load, locked, registerId, showError, state,
} from "./register-state.js";
import {
  cancelWeighing, connect, networkBack, renderWeight, setConnection, startWeighing, wireStream, wireWeighing,
} from "./register-stream.js";
import { lookup, startOffline } from "./register-offline.js";
import { ensureSignedIn, tablet } from "./register-signin.js";
import { takeScan, wireReturns } from "./register-returns.js";
import { lookingUp } from "./register-feedback.js";
import { offerVariants } from "./register-search.js";

/** A looked-up code (scan or typed): each items by units, weighed ones by label weight (the hub reads
 * the label again) or by a weighing the hub takes from the scale (typed on a register without one). */
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
  if (item.variant_axes?.length) {
    // a parent's code (a shelf or hang tag): the cashier picks the size or colour; nothing is added yet
    info(`${item.name}: pick the ${item.variant_axes.join(" and ")}`);
    offerVariants(item).then((problem) => { if (problem) showError(problem); });
    return;
  }
  if (item.unit === "each" && parsed?.kind === "rcn_price" && Number.isInteger(found.embedded_price_minor)) {
    // a scale's price label: this pack sells at the label's price (the hub reads the label again)
    addLine(item, 1, { code, label_price_minor: found.embedded_price_minor });
    info(`Added ${item.name} at ${formatMoney(found.embedded_price_minor, state.currency)} from the label`);
  } else if (item.unit === "each") {
    const n = Number.isInteger(qty) && qty > 0 ? qty : 1;
    addLine(item, n);
    info(n > 1 ? `Added ${n} × ${item.name} (case of ${n})` : `Added ${item.name}`);
  } else if (item.unit === "g" && (parsed?.weight_g > 0 || (parsed?.kind === "rcn_price" && qty > 0))) {
    const grams = parsed.weight_g > 0 ? parsed.weight_g : qty; // a price label: the weight its price buys
    addLine(item, grams, { source: "label", code }); // the hub reads the label again
    info(`Added ${item.name}, ${formatQtyUnit(grams, "g")} from the label`);
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
  if (!code || takeScan(code)) return; // a receipt code typed at the idle register opens the return
  const answered = lookingUp(code); // on screen now, whatever the hub takes to answer
  lookups = lookups.then(async () => {
    try {
      addLookup(await lookup(code), code); // from the hub, or this tablet's catalog while the hub is out of reach
    } catch (err) {
      showError(err.message);
    } finally {
      answered();
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
  if (!(await ensureSignedIn())) return; // a paired tablet: PIN sign-in and the shift first (register-signin.js)
  setText($("register-id"), registerId);
  localStorage.setItem(keys.lastRegister, registerId);
  $("code-form").addEventListener("submit", submitCode);
  $("scan-error-dismiss").addEventListener("click", clearError);
  wireWeighing();
  $("clear-cart").addEventListener("click", clearCartTapped);
  $("pay-cash").addEventListener("click", openPay);
  $("pay-back").addEventListener("click", closePay);
  $("tendered-input").addEventListener("input", renderPay);
  $("tendered-input").addEventListener("keydown", (e) => { if (e.key === "Enter") completeSale(); });
  $("pay-sheet").addEventListener("keydown", (e) => { if (e.key === "Escape") closePay(); });
  $("complete-sale").addEventListener("click", completeSale);
  for (const b of document.querySelectorAll(".quote-status .retry")) b.addEventListener("click", retryQuote);
  $("new-sale").addEventListener("click", newSale);
  $("reprint").addEventListener("click", reprint);
  $("sign-out").addEventListener("click", () => signOut());
  wireReturns();
  document.addEventListener("keydown", routeKeys);
  addEventListener("offline", () => setConnection("reconnecting"));
  addEventListener("online", networkBack);
  restore();
  startOffline({ requote: quoteSoon });
  renderWeight();
  connect();
  if (!(await showWho())) askAgainWhenBack();
}

/** The signed-in person and the store's currency from the hub; false when it is out of reach. */
async function showWho() {
  try {
    const me = await getSession();
    setText($("cashier"), me.user || me.role);
    $("status-link").hidden = !["manager", "owner"].includes(me.role);
    if (me.store?.currency && me.store.currency !== state.currency) {
      state.currency = me.store.currency;
      localStorage.setItem(keys.currency, state.currency);
      renderCart();
    }
    return true;
  } catch (err) {
    if (err.status !== 401) setText($("cashier"), "unknown");
    return err.status === 401;
  }
}

/** Opened while the hub was down (a reload from the service worker): once it answers, who is signed
 * in and the shift come back as at a normal start, without the cashier reloading again. */
function askAgainWhenBack() {
  setTimeout(async () => {
    if (!(await showWho())) return askAgainWhenBack();
    if (!tablet.reached) await ensureSignedIn();
  }, 2000);
}

wireCart({ renderPay, cancelWeighing });
wirePay({ addLookup });
wireStream({ addLookup });
start();
