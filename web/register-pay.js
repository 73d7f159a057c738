// Paying: the cash sheet, the sale sent with its pending copy kept in localStorage, retries, the result.
import {
  api, el, formatMoney, moneyInputValue, newId, parseMoney, quickAmounts, sentence, setText,
} from "/static/common.js";
import { cartChanged, quote, quotedTotal, refusal, renderCart } from "./register-cart.js";
import { $, clearError, info, keys, locked, registerId, state } from "./register-state.js";

const SALE_RETRY_MS = 5000;
const RECEIPT_WAIT_MS = 30000;

// Scans held while a sale was saving go through register.js, which sits above this module.
let addLookup = () => {};

export function wirePay(hooks) {
  ({ addLookup } = hooks);
}

export function openPay() {
  if (!state.lines.length || state.pay) return;
  state.pay = { saleId: newId(), pending: null, posting: false };
  $("tendered-input").value = "";
  payMessage(null);
  $("pay-sheet").hidden = false;
  renderPay();
  $("tendered-input").focus();
}

export function closePay() {
  if (locked()) return;
  state.pay = null;
  $("pay-sheet").hidden = true;
}

function tendered() {
  return state.pay?.pending ? state.pay.pending.body.tenders[0].amount_minor : parseMoney($("tendered-input").value);
}

export function renderPay() {
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

export function payMessage(text, kind = "bad") {
  const box = $("pay-message");
  box.hidden = !text;
  box.className = `notice notice-${kind}`;
  setText(box, text || "");
}

export function completeSale() {
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

export async function sendSale() {
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

export function renderReceipt(waitedLong = false) {
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

export function newSale() {
  state.result = null;
  $("result-sheet").hidden = true;
  clearError();
  info("");
  renderCart();
  const held = state.held.splice(0);
  for (const h of held) addLookup(h.found, h.code);
  $("code-input").focus({ preventScroll: true });
}
