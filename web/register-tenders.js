// Split tenders on the pay sheet: card on the shop's terminal (its reference, never a card number),
// gift card and store credit by code (balance shown), added until the rest is paid in cash.
// register-pay.js asks nonCash() for what to send and cashGiven() for the cash part; change comes only from cash.
import { api, el, formatMoney, moneyInputValue, parseMoney, sentence, setText } from "/static/common.js";
import { quotedTotal } from "./register-cart.js";
import { PAY_KEYS, keyHint } from "./register-keys.js";
import { offlineTenderProblem } from "./register-offline.js";
import { $, state } from "./register-state.js";

export const CARD_NUMBER_MESSAGE = "That looks like a card number: never type card numbers into Backroom; "
  + "enter the terminal's reference.";
const KINDS = { card: "Card", gift_card: "Gift card", store_credit: "Store credit" };
const LABELS = { ...KINDS, exchange: "Exchange credit" };
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9/._-]{0,31}$/;

let tenders = [];
let printReceipt = true; // the customer's choice: a paper receipt, or none
let exchange = null; // { returnId, code, credit_minor, finish(sale) }: a recorded return's credit paying the next sale
let onChange = () => {};
let form = null; // { kind, account?, checking? } while a tender is being entered
let checks = 0; // the latest balance asked: an older answer is dropped

function luhnOk(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d > 4 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** The hub's rule (hub.domain.tenders): 13-19 digits, spaces or dashes between them, passing Luhn. */
export function looksLikeCardNumber(text) {
  const runs = String(text).match(/(?<![0-9A-Za-z])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])(?![ -]\d)/g) || [];
  return runs.some((r) => luhnOk(r.replace(/[ -]/g, "")));
}

function exchangeTender() {
  const total = quotedTotal();
  if (!exchange || total === null) return [];
  const credit = Math.min(exchange.credit_minor, total);
  return credit > 0 ? [{ kind: "exchange", amount_minor: credit, reference: exchange.returnId }] : [];
}

export const nonCash = () => [...exchangeTender(),
  ...tenders.map(({ kind, amount_minor, reference }) => ({ kind, amount_minor, reference }))];
export const nonCashTotal = () => nonCash().reduce((s, t) => s + t.amount_minor, 0);

/** A recorded return's credit pays the next sale (register-returns.js); finish(sale) shows what came of it. */
export function setExchange(next) {
  exchange = next;
  $("exchange-banner")?.remove();
  if (!next) return;
  // in sight until the sale is paid: an exchange left behind must not pay for the next customer
  $("banner").after(el("div", { id: "exchange-banner", "data-testid": "exchange-banner", class: "banner", role: "status" },
    `Exchange: ${formatMoney(next.credit_minor, state.currency)} credit from return ${next.code} pays this sale. `,
    el("button", { type: "button", class: "btn", "data-testid": "exchange-cancel",
      onclick: async () => { await next.callOff(); onChange(); } }, "Refund instead")));
}

export const exchangeOpen = () => exchange;

/** After a sale: the exchange is over once a sale spent its credit (the hub refunded what it did not use). */
export function afterSale(sale) {
  const done = exchange;
  if (!done || !sale?.tenders?.some((t) => t.kind === "exchange" && t.reference === done.returnId)) return;
  setExchange(null);
  done.finish(sale);
}

/** The cash part: what is typed, or 0 when other tenders were taken and nothing is typed; null when unreadable. */
export function cashGiven() {
  const typed = $("tendered-input").value.trim();
  if (!typed) return nonCash().length ? 0 : null;
  return parseMoney(typed);
}

export function resetTenders() {
  tenders = [];
  form = null;
  printReceipt = true;
}

/** What the sale body says about the receipt: {} to print (the default), {receipt: "none"} for none. */
export const receiptField = () => (printReceipt ? {} : { receipt: "none" });

function receiptToggle(frozen) {
  const choice = (print, label) => el("button", { type: "button", class: "btn", "aria-pressed": String(printReceipt === print),
    ...(printReceipt === print ? {} : keyHint(PAY_KEYS.receipt, print ? "Print a receipt" : "No receipt")),
    "data-testid": `receipt-${print ? "print" : "none"}`, disabled: frozen,
    onclick: () => { printReceipt = print; renderTenders(); } }, label);
  return el("div", { class: "receipt-choice", role: "group", "aria-label": "Receipt" },
    el("span", {}, "Receipt"), choice(true, "Print"), choice(false, "None"));
}

function due() {
  const total = state.pay?.pending ? state.pay.pending.total : quotedTotal();
  return total === null ? null : Math.max(total - nonCashTotal(), 0);
}

function message(text, kind = "bad") {
  const box = $("tender-message");
  box.hidden = !text;
  box.className = `notice notice-${kind}`;
  setText(box, text || "");
}

function startForm(kind) {
  form = { kind, account: null };
  message(null);
  renderTenders();
  $("tender-ref").focus();
}

async function checkAccount() {
  const code = $("tender-ref").value.trim().toUpperCase();
  if (!code) return;
  const asked = form;
  const my = ++checks;
  asked.checking = true; // "Checking…" on the button at once, drawn again with the form until the hub answers
  renderTenders();
  try {
    const account = await api(`/api/v1/stored-value/${encodeURIComponent(code)}`);
    if (form !== asked || my !== checks) return; // cancelled, or another code asked meanwhile
    form.checking = false;
    if (account.kind !== form.kind) {
      message(`${code} is a ${KINDS[account.kind].toLowerCase()}, not a ${KINDS[form.kind].toLowerCase()}.`);
      renderTenders();
      return;
    }
    form.account = account;
    message(null);
    renderTenders(); // the amount is filled in with what it can pay, once the hub's quote says what is due
    $("tender-amount").focus();
  } catch (err) {
    if (form !== asked || my !== checks) return;
    form.checking = false;
    message(err.status === 0 ? offlineTenderProblem([{ kind: form.kind }]) : sentence(err.message));
    renderTenders();
  }
}

/** A scan while a gift card or store credit is being entered is its code (scanned off the card). */
export function tenderScan(code) {
  if (!form || form.kind === "card" || !state.pay || state.pay.pending) return false;
  const text = String(code || "").replace(/^\][A-Za-z]\d/, "");
  if (!text) return false;
  $("tender-ref").value = text;
  form.account = null;
  checkAccount();
  return true;
}

function addTender() {
  const ref = $("tender-ref");
  const reference = ref.value.trim();
  if (looksLikeCardNumber(reference)) {
    ref.value = ""; // the number is not kept anywhere, not even in the field
    message(CARD_NUMBER_MESSAGE);
    ref.focus();
    return;
  }
  if (form.kind === "card" && !REFERENCE.test(reference)) {
    message("Enter the reference the card terminal printed for this payment (letters, digits, / . _ -).");
    return;
  }
  if (form.kind !== "card" && !form.account) {
    checkAccount();
    return;
  }
  const amount = parseMoney($("tender-amount").value);
  const left = due();
  if (!amount) {
    message("Enter the amount this tender pays.");
    return;
  }
  if (left !== null && amount > left) {
    message(`Only ${formatMoney(left, state.currency)} is left to pay; change is given only from cash.`);
    return;
  }
  if (form.account && amount > form.account.balance_minor) {
    message(`${form.account.code} holds ${formatMoney(form.account.balance_minor, state.currency)}.`);
    return;
  }
  tenders.push({ kind: form.kind, amount_minor: amount, reference: form.account ? form.account.code : reference });
  form = null;
  message(null);
  onChange();
}

function tenderForm() {
  const stored = form.kind !== "card";
  const ref = el("input", { id: "tender-ref", "data-testid": "tender-ref", class: "input", type: "text",
    autocomplete: "off", spellcheck: "false", autocapitalize: "characters",
    placeholder: stored ? "Scan or type the code" : "Terminal reference",
    onkeydown: formKeys,
    oninput: () => { if (form.account) { form.account = null; renderTenders(); } } });
  const amount = el("input", { id: "tender-amount", "data-testid": "tender-amount", class: "input", type: "text",
    inputmode: "decimal", autocomplete: "off", placeholder: "0.00", onkeydown: formKeys });
  const left = due();
  if (left !== null && (!stored || form.account)) {
    amount.value = moneyInputValue(stored ? Math.min(form.account.balance_minor, left) : left);
  }
  const balance = form.account ? el("span", { class: "tender-balance", "data-testid": "tender-balance" },
    `Balance ${formatMoney(form.account.balance_minor, state.currency)}`) : null;
  return el("div", { class: "tender-form", "data-kind": form.kind },
    el("label", { for: "tender-ref" }, stored ? `${KINDS[form.kind]} code` : "Card terminal reference"), ref,
    balance,
    stored && !form.account ? null : el("label", { for: "tender-amount" }, "Amount"),
    stored && !form.account ? null : amount,
    el("div", { class: "tender-form-actions" },
      el("button", { type: "button", class: "btn", "data-testid": "tender-cancel", ...keyHint("Esc", "Cancel this tender"),
        onclick: cancelForm }, "Cancel"),
      el("button", { type: "button", class: `btn btn-primary${form.checking ? " busy" : ""}`, "data-testid": "tender-add",
        "aria-busy": form.checking ? "true" : null, onclick: addTender },
      form.checking ? "Checking…" : stored && !form.account ? "Check balance" : `Add ${KINDS[form.kind].toLowerCase()}`)));
}

function cancelForm() {
  form = null;
  message(null);
  renderTenders();
}

/** In a tender's fields: Enter adds it, Esc cancels it (a second Esc goes back from the pay sheet). */
function formKeys(e) {
  if (e.key === "Enter") addTender();
  else if (e.key === "Escape") {
    cancelForm();
    $("tendered-input").focus({ preventScroll: true });
  }
  else return;
  e.preventDefault();
  e.stopPropagation();
}

/** Draw the tender list and buttons into the pay sheet; called from renderPay. */
export function renderTenders() {
  const box = $("tenders");
  if (!box || !state.pay) return;
  const frozen = Boolean(state.pay.pending) || state.pay.posting;
  const list = frozen ? state.pay.pending?.body.tenders.filter((t) => t.kind !== "cash") || [] : nonCash();
  const keepFocus = form && document.activeElement?.closest?.(".tender-form") ? document.activeElement.id : null;
  const typed = form ? { ref: $("tender-ref")?.value, amount: $("tender-amount")?.value } : null;
  box.replaceChildren(
    el("ul", { class: "tender-list", "data-testid": "tender-list" }, ...list.map((t, i) => el("li", {
      class: "tender-line", "data-kind": t.kind },
    el("span", {}, LABELS[t.kind] || t.kind, " ",
      el("span", { class: "muted mono" }, t.kind === "exchange" ? "" : t.reference)),
    el("strong", { class: "num" }, formatMoney(t.amount_minor, state.currency)),
    frozen || t.kind === "exchange" ? null : el("button", { type: "button", class: "btn btn-quiet",
      "aria-label": `Remove ${KINDS[t.kind]}`,
      onclick: () => { tenders.splice(i - exchangeTender().length, 1); onChange(); } }, "Remove")))),
    form && !frozen ? tenderForm() : el("div", { class: "tender-kinds", role: "group", "aria-label": "Other tenders" },
      ...Object.entries(KINDS).map(([kind, label]) => el("button", {
        type: "button", class: "btn", "data-testid": `tender-${kind}`, disabled: frozen || due() === 0,
        ...keyHint(PAY_KEYS[kind], label), onclick: () => startForm(kind) }, label))),
    receiptToggle(frozen),
  );
  if (typed) {
    if (typed.ref !== undefined && $("tender-ref")) $("tender-ref").value = typed.ref;
    // an empty box is filled in again: the quote may have come after the form (what is due was unknown)
    if (typed.amount && $("tender-amount")) $("tender-amount").value = typed.amount;
    if (keepFocus) $(keepFocus)?.focus();
  }
  setText($("pay-title"), list.length ? "Split payment" : "Payment");
}

/** Build the tender section once, above the cash amount; onChange re-renders the pay sheet. */
export function wireTenders(changed) {
  onChange = changed;
  const section = el("section", { class: "tenders-box", "aria-label": "Card, gift card and store credit" },
    el("div", { id: "tenders", "data-testid": "tenders" }),
    el("div", { id: "tender-message", "data-testid": "tender-message", class: "notice", role: "alert", hidden: true }));
  $("quick").before(section);
  setText($("pay-title"), "Payment");
}
