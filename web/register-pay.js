// Paying: the cash sheet, the sale sent with its pending copy kept in localStorage, retries, the result.
import {
  api, el, formatMoney, moneyInputValue, newId, quickAmounts, sentence, setText,
} from "/static/common.js";
import { addLine, cartChanged, cartFields, lineBody, quote, quotedTotal, refusal, renderCart } from "./register-cart.js";
import { chargedPrices, offline, offlineTenderProblem, saleOffline } from "./register-offline.js";
import { approvalFields, approvalsMissing, askApprovals } from "./register-discounts.js";
import { $, clearError, info, keys, locked, registerId, state } from "./register-state.js";
import { busy } from "./register-feedback.js";
import { PAY_KEYS, keyHint } from "./register-keys.js";
import {
  afterSale, cashGiven, nonCash, nonCashTotal, receiptField, renderTenders, resetTenders, wireTenders,
} from "./register-tenders.js";

const SALE_RETRY_MS = 5000;
const RECEIPT_WAIT_MS = 30000;

// Scans held while a sale was saving go through register.js, which sits above this module.
let addLookup = () => {};

export function wirePay(hooks) {
  ({ addLookup } = hooks);
  wireTenders(() => renderPay());
}

export function openPay() {
  if (!state.lines.length || state.pay) return;
  state.pay = { saleId: newId(), pending: null, posting: false };
  resetTenders();
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

/** All tenders together (split: card, gift card, store credit, then cash), or null while the cash is unreadable. */
function tendered() {
  if (state.pay?.pending) return state.pay.pending.body.tenders.reduce((sum, t) => sum + t.amount_minor, 0);
  const cash = cashGiven();
  return cash === null ? null : nonCashTotal() + cash;
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
  const cashDue = known ? Math.max(total - nonCashTotal(), 0) : null; // what is left for cash
  if (quick.dataset.total !== String(cashDue)) {
    quick.dataset.total = String(cashDue);
    quick.replaceChildren(...(known ? quickAmounts(cashDue) : []).map((a, i) => el("button", {
      class: "btn", type: "button", dataset: { minor: String(a) }, ...(i === 0 ? keyHint(PAY_KEYS.exact, "Exact cash") : {}),
      onclick: () => { $("tendered-input").value = moneyInputValue(a); renderPay(); },
    }, i === 0 ? `Exact ${formatMoney(a, state.currency)}` : formatMoney(a, state.currency))));
  }
  for (const b of quick.children) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.minor) === cashGiven()));
    b.disabled = Boolean(pending);
  }
  const input = $("tendered-input");
  input.disabled = Boolean(pending);
  if (pending) input.value = moneyInputValue(pending.body.tenders.find((t) => t.kind === "cash")?.amount_minor ?? 0);
  const typed = input.value.trim();
  input.setAttribute("aria-invalid", String(Boolean(typed) && given === null));
  let change = "–";
  if (known && given !== null && given >= total) change = formatMoney(given - total, state.currency);
  else if (known && given !== null) change = `${formatMoney(total - given, state.currency)} short`;
  setText($("change-preview"), change);
  const button = $("complete-sale");
  button.disabled = state.pay.posting || (!pending && (!known || given === null || given < total || !state.lines.length
    || nonCashTotal() > total));
  setText(button, state.pay.posting ? "Saving sale…" : pending ? "Try again" : "Complete sale");
  button.classList.toggle("busy", state.pay.posting); // set before the request goes: never waits for the hub
  if (state.pay.posting) button.setAttribute("aria-busy", "true");
  else button.removeAttribute("aria-busy");
  $("pay-back").disabled = Boolean(pending);
  renderTenders();
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
    if (offline.hubDown && offlineTenderProblem(nonCash())) return payMessage(offlineTenderProblem(nonCash()));
    if (approvalsMissing()) { // a manager's PIN first, for discounts and price changes beyond the cashier's rights
      askApprovals().then((ok) => { if (ok) completeSale(); });
      return;
    }
    // Frozen from here on: a retry must send these exact bytes, or the hub would see a different sale.
    state.pay.pending = {
      body: {
        id: state.pay.saleId, register_id: registerId, ...receiptField(),
        lines: state.lines.map(lineBody), ...cartFields(), ...approvalFields(),
        tenders: [...nonCash(), ...(given > nonCashTotal() || !nonCash().length
          ? [{ kind: "cash", amount_minor: given - nonCashTotal() }] : [])],
      },
      lines: state.lines.map((l) => ({ ...l })),
      total,
      charged: chargedPrices(quote.last, total), // what an offline sale is recorded at, should the hub be gone
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
    // the hub is out of reach: a cash sale is kept on this tablet and sent when the hub is back
    const queued = err.status === 0 ? await saleOffline(pay.pending) : null;
    pay.posting = false;
    if (queued) {
      saleDone(queued);
      return;
    }
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
  afterSale(sale); // an exchange's return is recorded now, naming this sale
  renderCart();
  setText($("change-due"), formatMoney(sale.change_minor, sale.currency));
  setText($("sale-number"), sale.number ?? "pending");
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
  if (job && !job.ok && job.status === "queued") { // paper out, cover open: the hub retries
    text = `Receipt waiting: ${job.error || "the printer is not ready"}. It prints when the printer is ready`;
    kind = "warn";
  } else if (job) {
    text = job.ok ? "Receipt printed" : `Receipt failed: ${job.error || "the printer gave no reason"}`;
    kind = job.ok ? "ok" : "bad";
  } else if (receipt.status === "queued" && state.result.replayed) {
    text = "Receipt sent to the printer when the sale was first saved: check it came out";
  } else if (receipt.status === "queued") {
    text = waitedLong ? "Printing receipt... no answer from the printer yet: check it is on and has paper"
      : "Printing receipt...";
  } else if (receipt.status === "offline") {
    text = "Saved on this tablet: it goes to the hub when the hub is back. No receipt printed";
  } else if (receipt.status === "none") {
    text = "No receipt, as the customer asked";
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
  out.dataset.status = job ? (job.ok ? "printed" : job.status === "queued" ? "waiting" : "failed") : receipt.status || "";
  // A copy can be printed once the hub has the sale and the register has a printer.
  $("reprint").hidden = !state.result?.number || receipt.status === "no_printer" || receipt.status === "offline";
}

/** Print a copy of the sale on screen (marked as a copy; it never opens the drawer). */
export async function reprint() {
  const sale = state.result;
  if (!sale?.id) return;
  const out = $("receipt-status");
  const done = busy($("reprint"), "Sending a copy…");
  try {
    const job = await api(`/api/v1/sales/${encodeURIComponent(sale.id)}/receipt`, { method: "POST", body: {} });
    sale.receipt = { ...sale.receipt, job_id: job.job_id, status: job.status };
    renderReceipt();
  } catch (err) {
    setText(out, `Copy not printed: ${err.message}`);
    out.className = "receipt-status bad";
  } finally {
    done();
  }
}

export function newSale() {
  state.result = null;
  $("result-sheet").hidden = true;
  clearError();
  info("");
  renderCart();
  const held = state.held.splice(0);
  for (const h of held) {
    if (h.weighed) addLine(h.weighed.item, h.weighed.grams, h.weighed.weight); // weighed while the last sale saved
    else addLookup(h.found, h.code);
  }
  $("code-input").focus({ preventScroll: true });
}
