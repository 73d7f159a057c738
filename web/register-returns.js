// Returns at the till: scan the receipt (or type its code), pick lines and quantities, a reason and a
// condition, then refund to the sale's own tenders or exchange for new items (the credit pays the next
// sale; the difference is paid, or refunded). Without a receipt a manager approves (register-approval.js).
// The hub prices every refund (hub.returns); the credit shown for an exchange uses its same proration.
// A return needs the hub (the original sale, the refund); once an exchange's return is recorded, its
// replacement sale may be queued on the tablet while the hub is away (register-offline.js): the
// exchange then completes when that sale reaches the hub. An open exchange survives a reload.
import { api, el, formatMoney, newId, sentence, setText } from "/static/common.js";
import { askManagerApproval } from "./register-approval.js";
import { offline } from "./register-offline.js";
import { $, info, load, registerId, state } from "./register-state.js";
import { setExchange } from "./register-tenders.js";

const RECEIPT = /^S\d{8}$/i;
const TENDER_NAMES = { cash: "Cash", card: "Card", gift_card: "Gift card", store_credit: "Store credit",
  exchange: "Exchange credit" };

let ret = null; // { sale, picks: Map(line_no -> qty), items: [{ item, qty }], returnId, busy }
let codes = null;
let sheet = null;
const openKey = `backroom.exchange.${registerId}`; // the exchange whose credit the next sale spends
const queuedExchanges = new Map(); // sale id -> its return's answer, for sales waiting in the offline queue

const HUB_NEEDED = "Returns need the hub, and it can't be reached: it holds the original sale and pays the "
  + "refund. Keep this open and try again when the hub is back (it is never recorded twice), or close it and "
  + "go on selling.";

/** The message for a failed request: a return can't be made without the hub, so say that plainly. */
const problem = (err) => (err.status === 0 ? HUB_NEEDED : sentence(err.message));

/** Half away from zero, as hub.domain.money.div_half_up, for non-negative a and positive b. */
const divHalfUp = (a, b) => Math.floor((2 * a + b) / (2 * b));

/** What returning n more units of a line refunds: the hub's proration (hub.domain.returns.refund_lines). */
function lineRefund(line, n) {
  const before = line.returned_qty;
  return divHalfUp(line.total_minor * (before + n), line.qty) - divHalfUp(line.total_minor * before, line.qty);
}

function refundTotal() {
  if (!ret) return 0;
  if (ret.sale) return ret.sale.lines.reduce((s, l) => s + lineRefund(l, ret.picks.get(l.line_no) || 0), 0);
  return ret.items.reduce((s, x) => s + x.item.price_minor * x.qty, 0);
}

function message(text, kind = "bad") {
  const box = $("return-message");
  box.hidden = !text;
  box.className = `notice notice-${kind}`;
  setText(box, text || "");
}

async function loadCodes() {
  codes ||= await api("/api/v1/reason-codes");
  return codes;
}

function select(id, list, label, key, fallback) {
  const preferred = ret[key] || fallback;
  return el("label", { class: "field" }, label, el("select", { id, "data-testid": id, class: "input",
    onchange: (e) => { ret[key] = e.target.value; } },
    ...list.map((c) => el("option", { value: c.code, selected: c.code === preferred }, c.label || c.code))));
}

export function openReturns(code = "") {
  if (state.pay) return;
  ret = { sale: null, picks: new Map(), items: [], returnId: newId(), busy: false };
  sheet.hidden = false;
  render();
  if (offline.hubDown) message(HUB_NEEDED, "warn");
  if (code) findSale(code);
  else $("return-code").focus();
}

function close() {
  ret = null;
  sheet.hidden = true;
  $("code-input").focus({ preventScroll: true });
}

async function findSale(code) {
  const text = code.trim().toUpperCase();
  if (!RECEIPT.test(text)) {
    message(`${text || "That"} is not a receipt code: it reads like S00000012 under the receipt's barcode.`);
    return;
  }
  try {
    const [sale] = await Promise.all([api(`/api/v1/sales/by-receipt/${encodeURIComponent(text)}`), loadCodes()]);
    if (sale.voided) throw new Error(`sale ${sale.number} was voided: nothing on it can be returned`);
    ret.sale = sale;
    message(null);
    render();
  } catch (err) {
    message(problem(err));
  }
}

async function noReceipt() {
  await loadCodes().catch(() => null);
  ret.sale = null;
  ret.items = [];
  ret.noReceipt = true;
  render();
  $("return-item-code").focus();
}

async function addItem(code) {
  try {
    const found = await api(`/api/v1/lookup?code=${encodeURIComponent(code)}`);
    const same = ret.items.find((x) => x.item.sku === found.item.sku);
    if (same) same.qty += 1;
    else ret.items.push({ item: found.item, qty: 1 });
    message(null);
    render();
  } catch (err) {
    message(problem(err));
  }
}

/** Scans while the sheet is open are for it; a receipt code scanned at the idle register opens it. */
export function takeScan(code) {
  const text = String(code || "").replace(/^\][A-Za-z]\d/, "");
  if (sheet && !sheet.hidden && ret) {
    if (RECEIPT.test(text)) findSale(text);
    else if (ret.noReceipt) addItem(text);
    return true;
  }
  if (RECEIPT.test(text) && !state.pay && !state.lines.length) {
    openReturns(text);
    return true;
  }
  return false;
}

function body(extra = {}) {
  const reason = $("return-reason").value;
  const condition = $("return-condition").value;
  const note = $("return-note")?.value.trim() || "";
  const withNote = note ? { note } : {};
  if (ret.sale) {
    return { id: ret.returnId, register_id: registerId, sale_id: ret.sale.id, ...extra,
      lines: [...ret.picks].filter(([, n]) => n > 0).map(([no, qty]) => ({ sale_line_no: no, qty, reason, condition,
        ...withNote })) };
  }
  return { id: ret.returnId, register_id: registerId, ...extra,
    lines: ret.items.map((x) => ({ sku: x.item.sku, qty: x.qty, amount_minor: x.item.price_minor * x.qty, reason,
      condition, ...withNote })) };
}

async function record(payload) {
  try {
    return await api("/api/v1/returns", { method: "POST", body: payload });
  } catch (err) {
    if (err.status !== 403 || err.code !== "needs_manager") throw err;
    const action = payload.sale_id ? "refund" : "return_without_receipt";
    const total = refundTotal();
    const token = await askManagerApproval(action, { return_id: payload.id, total_minor: total });
    if (!token) throw new Error("the return needs a manager's approval; it was not recorded");
    return api("/api/v1/returns", { method: "POST", body: { ...payload, approval: token } });
  }
}

function showDone(answer) {
  ret.done = answer;
  render();
  $("return-close").focus();
}

async function refund() {
  if (ret.busy || refundTotal() <= 0) return;
  ret.busy = true;
  render();
  try {
    showDone(await record(body()));
  } catch (err) {
    message(problem(err));
  } finally {
    if (ret) ret.busy = false;
    if (ret && !ret.done) render();
  }
}

const returnCode = (answer) => `R${String(answer.number).padStart(8, "0")}`;

/** The return first, its refund held as exchange credit (hub.returns); the next sale spends it. */
async function exchange() {
  if (ret.busy || refundTotal() <= 0 || !ret.sale) return;
  ret.busy = true;
  render();
  try {
    const answer = await record(body({ exchange: true }));
    const credit = holdExchange(answer);
    close();
    info(`Exchange: return ${returnCode(answer)} holds ${formatMoney(credit, state.currency)} credit. `
      + "Scan the new items, then pay the difference.");
  } catch (err) {
    message(problem(err));
  } finally {
    if (ret) {
      ret.busy = false;
      render();
    }
  }
}

/** The return's credit pays the next sale (register-tenders.js); kept on the tablet until a sale spends it. */
function holdExchange(answer) {
  const credit = answer.refunds.filter((f) => f.kind === "exchange_credit").reduce((s, f) => s + f.amount_minor, 0);
  localStorage.setItem(openKey, JSON.stringify(answer));
  setExchange({ returnId: answer.id, code: returnCode(answer), credit_minor: credit,
    finish: (sale) => exchanged(answer, sale), callOff: () => callOff(answer) });
  return credit;
}

/** The customer wants their money after all: the hub refunds the held credit by the usual rules. */
async function callOff(answer) {
  try {
    const done = await api(`/api/v1/returns/${encodeURIComponent(answer.id)}/refund-credit`, { method: "POST", body: {} });
    localStorage.removeItem(openKey);
    setExchange(null);
    info(`Exchange called off. Return ${returnCode(answer)}: ${describe(done.refunds)}.`);
  } catch (err) {
    if (err.code === "no_exchange_credit") { // spent or refunded already: nothing is held any more
      localStorage.removeItem(openKey);
      setExchange(null);
    }
    info(err.status === 0 ? "The exchange credit was not refunded: the refund needs the hub, and it can't be "
      + "reached. The credit stays held; sell the new items with it, or try again when the hub is back."
      : `The exchange credit was not refunded: ${sentence(err.message)}`);
  }
}

function resultBox() {
  const out = $("exchange-result") || el("div", { id: "exchange-result", "data-testid": "exchange-result",
    class: "notice", role: "status" });
  $("receipt-status").after(out);
  return out;
}

/** After the replacement sale: what its credit did not pay was refunded in that sale (shown to hand back). */
async function exchanged(answer, sale) {
  localStorage.removeItem(openKey);
  const out = resultBox();
  if (sale.offline) { // queued on this tablet: the hub spends the credit when the sale reaches it
    const spent = sale.tenders.filter((t) => t.kind === "exchange").reduce((s, t) => s + t.amount_minor, 0);
    const held = answer.refunds.filter((f) => f.kind === "exchange_credit").reduce((s, f) => s + f.amount_minor, 0);
    queuedExchanges.set(sale.id, answer);
    out.className = "notice notice-warn";
    out.dataset.state = "queued";
    setText(out, `The exchange is saved on this tablet and completes when the hub is back: return `
      + `${returnCode(answer)}'s credit pays this sale.` + (held > spent ? ` The ${formatMoney(held - spent, state.currency)}`
      + " of credit this sale does not use is refunded then, by the original sale's tenders." : ""));
    return;
  }
  try {
    const back = (await api(`/api/v1/sales/${encodeURIComponent(sale.id)}`)).exchange_refunds || [];
    out.className = "notice notice-ok";
    setText(out, `Return ${returnCode(answer)} recorded; its credit paid this sale.`
      + (back.length ? ` Refund the difference: ${describe(back)}.` : ""));
  } catch (err) {
    out.className = "notice notice-warn";
    setText(out, `Return ${returnCode(answer)} recorded; its credit paid this sale. The difference could not be `
      + `read (${err.message}): look the sale up.`);
  }
}

/** A queued sale reached the hub: an exchange it paid is complete (or refused, kept in the offline list). */
async function queuedSaleDone(event) {
  const { id, body: sent, answer, error } = event.detail;
  if (!sent.tenders.some((t) => t.kind === "exchange")) return;
  const ret = queuedExchanges.get(id);
  queuedExchanges.delete(id);
  const out = state.result?.id === id ? $("exchange-result") : null; // still on screen: update it in place
  const what = ret ? `Return ${returnCode(ret)}: ` : "";
  if (!answer) {
    const text = `${what}the hub refused the exchange sale (${error}). It stays listed on this tablet: ask a manager.`;
    if (out) {
      out.className = "notice notice-bad";
      out.dataset.state = "refused";
      setText(out, text);
    } else info(text);
    return;
  }
  let back = [];
  try {
    back = (await api(`/api/v1/sales/${encodeURIComponent(id)}`)).exchange_refunds || [];
  } catch {
    back = null; // the sale is at the hub; only the difference could not be read
  }
  const text = `${what}the exchange is complete at the hub, sale S${String(answer.number).padStart(8, "0")}.`
    + (back === null ? " Look the sale up for any difference to refund." : back.length
      ? ` Refund the difference: ${describe(back)}.` : "");
  if (out) {
    out.className = "notice notice-ok";
    out.dataset.state = "complete";
    setText(out, text);
  } else info(text);
}

function describe(refunds) {
  return refunds.map((f) => `${TENDER_NAMES[f.kind] || f.kind} ${formatMoney(f.amount_minor, state.currency)}`
    + (f.kind === "card" ? ` (on the terminal, payment ${f.reference})` : "")
    + (f.kind === "gift_card" || f.kind === "store_credit" ? ` credited to ${f.reference}` : "")).join(", ");
}

function stepper(value, max, set) {
  return el("div", { class: "qty" },
    el("button", { type: "button", class: "btn", "data-testid": "qty-minus", "aria-label": "One less",
      disabled: value <= 0, onclick: () => set(value - 1) }, "−"),
    el("strong", { "data-testid": "return-qty" }, String(value)),
    el("button", { type: "button", class: "btn", "data-testid": "qty-plus", "aria-label": "One more",
      disabled: value >= max, onclick: () => set(value + 1) }, "+"));
}

function linesView() {
  if (ret.sale) {
    return ret.sale.lines.map((l) => el("li", { class: "return-line", "data-testid": "return-line",
      "data-line-no": String(l.line_no) },
    el("div", {}, el("strong", {}, l.name), el("div", { class: "muted" },
      l.returnable_qty ? `${l.returnable_qty} of ${l.qty} can come back` : "all returned")),
    // a weighed line comes back whole: its grams, or nothing
    stepper(ret.picks.get(l.line_no) || 0, l.returnable_qty, (n) => {
      ret.picks.set(l.line_no, l.unit === "each" ? n : n > (ret.picks.get(l.line_no) || 0) ? l.returnable_qty : 0);
      render();
    })));
  }
  return ret.items.map((x) => el("li", { class: "return-line", "data-testid": "return-line" },
    el("div", {}, el("strong", {}, x.item.name), el("div", { class: "muted" }, formatMoney(x.item.price_minor, state.currency))),
    stepper(x.qty, 999, (n) => { x.qty = n; if (!n) ret.items.splice(ret.items.indexOf(x), 1); render(); })));
}

function render() {
  if (!ret) return;
  const content = $("return-body");
  if (ret.done) {
    content.replaceChildren(
      el("p", { class: "change-due", "data-testid": "return-total" }, formatMoney(ret.done.total_minor, state.currency)),
      el("p", { "data-testid": "return-result" }, `Return R${String(ret.done.number).padStart(8, "0")}: `,
        describe(ret.done.refunds), ret.done.approved_by ? ` · approved by ${ret.done.approved_by}` : ""),
      el("button", { type: "button", class: "btn btn-primary", id: "return-close", "data-testid": "return-close",
        onclick: close }, "Done"));
    return;
  }
  const find = el("form", { class: "code-form", onsubmit: (e) => { e.preventDefault(); findSale($("return-code").value); } },
    el("input", { id: "return-code", "data-testid": "return-code", class: "input", placeholder: "Receipt code S00000012",
      autocomplete: "off", autocapitalize: "characters", spellcheck: "false" }),
    el("button", { class: "btn btn-primary", type: "submit", "data-testid": "return-find" }, "Find sale"));
  const chosen = ret.sale || ret.noReceipt;
  const total = refundTotal();
  content.replaceChildren(...[
    ret.sale ? el("p", {}, `Sale ${ret.sale.receipt_code} · ${formatMoney(ret.sale.total_minor, state.currency)} · `,
      ret.sale.tenders.map((t) => TENDER_NAMES[t.kind] || t.kind).join(" + ")) : find,
    !chosen ? el("button", { type: "button", class: "btn", "data-testid": "return-no-receipt", onclick: noReceipt },
      "No receipt (a manager approves)") : null,
    ret.noReceipt ? el("form", { class: "code-form", onsubmit: (e) => {
      e.preventDefault(); const c = $("return-item-code").value.trim(); $("return-item-code").value = ""; if (c) addItem(c);
    } }, el("input", { id: "return-item-code", "data-testid": "return-item-code", class: "input",
      placeholder: "Item code", autocomplete: "off" }), el("button", { class: "btn", type: "submit" }, "Add")) : null,
    chosen ? el("ul", { class: "return-lines" }, ...linesView()) : null,
    chosen && codes ? el("div", { class: "return-codes" }, select("return-reason", codes.return, "Reason", "reason", "changed_mind"),
      select("return-condition", codes.condition, "Condition", "condition", "resellable")) : null,
    chosen ? el("input", { id: "return-note", "data-testid": "return-note", class: "input", placeholder: "Note (optional)",
      autocomplete: "off", value: ret.note || "", oninput: (e) => { ret.note = e.target.value; } }) : null,
    chosen ? el("div", { class: "due" }, el("span", {}, "Refund"),
      el("span", { class: "amount", "data-testid": "return-refund" }, formatMoney(total, state.currency))) : null,
    chosen ? el("div", { class: "sheet-actions" },
      ret.sale ? el("button", { type: "button", class: "btn", "data-testid": "return-exchange", disabled: total <= 0,
        onclick: exchange }, "Exchange") : el("span"),
      el("button", { type: "button", class: "btn btn-primary", "data-testid": "return-refund-button",
        disabled: total <= 0 || ret.busy, onclick: refund }, ret.busy ? "Saving…" : "Refund")) : null,
  ].filter(Boolean)); // replaceChildren would write null as text
}

/** Build the sheet and the Returns button once (the button sits in the top bar). */
export function wireReturns() {
  sheet = el("div", { id: "returns-sheet", "data-testid": "returns-sheet", class: "sheet-backdrop", hidden: true,
    onkeydown: (e) => { if (e.key === "Escape" && !ret?.busy) close(); } },
  el("section", { class: "sheet", role: "dialog", "aria-modal": "true", "aria-labelledby": "returns-title" },
    el("h2", { id: "returns-title" }, "Return"),
    el("div", { id: "return-body" }),
    el("div", { id: "return-message", "data-testid": "return-message", class: "notice", role: "alert", hidden: true }),
    el("button", { type: "button", class: "btn btn-quiet", "data-testid": "return-cancel", onclick: close }, "Close")));
  document.body.append(sheet);
  addEventListener("backroom:offline-sent", queuedSaleDone);
  addEventListener("backroom:offline-refused", queuedSaleDone);
  // an exchange's result belongs to its own sale's result sheet, not to the next one
  new MutationObserver(() => { if ($("result-sheet").hidden) $("exchange-result")?.remove(); })
    .observe($("result-sheet"), { attributes: true, attributeFilter: ["hidden"] });
  const open = load(openKey); // an exchange left open when the page reloaded: its credit still pays the next sale
  if (open?.id && Array.isArray(open.refunds)) holdExchange(open);
  $("sign-out").before(el("button", { type: "button", class: "btn btn-quiet", id: "returns-open",
    "data-testid": "returns-open", onclick: () => openReturns() }, "Return"));
}
