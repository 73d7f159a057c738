// The ledger's own views on /stock: adjust, transfer, the review bin, exceptions, and one item's
// stock and moves (/stock/<sku>).
import { ApiError, api, el, setText } from "/static/common.js";
import {
  $, ctx, enc, makePicker, money, pickerOf, placeName, shortTime, showResult, signed, stockLink, submitting, who, whole,
} from "./stock.js";

// -- adjust and transfer ------------------------------------------------------------------------

function fillReasons() {
  const select = $("a-reason");
  select.replaceChildren(el("option", { value: "" }, "Choose why…"),
    ...ctx.reasons.adjustment.map((r) => el("option", { value: r.code, dataset: { needsNote: String(r.needs_note) } }, r.label)));
  const mark = () => setText($("a-note-need"), select.selectedOptions[0]?.dataset.needsNote === "true" ? "(needed for this reason)" : "(optional)");
  select.addEventListener("change", mark);
  mark();
}

async function adjust(event) {
  event.preventDefault();
  await submitting(event.currentTarget, async (f) => {
    const picker = pickerOf(f.sku);
    const sku = await picker.sku();
    const qty = whole(f.qty.value, "qty", { signed: true });
    const reason = f.reason.selectedOptions[0];
    if (!f.reason.value) throw new ApiError("Choose why the stock changed: damaged, theft, found…", { field: "reason" });
    if (reason?.dataset.needsNote === "true" && !f.note.value.trim()) {
      throw new ApiError(`“${reason.textContent}” needs a note saying why.`, { field: "note" });
    }
    const res = await api("/api/v1/stock/adjustments", {
      method: "POST", body: { sku, location: f.location.value, qty, reason: f.reason.value, note: f.note.value.trim() },
    });
    const here = res.levels.find((l) => l.location === res.location)?.on_hand ?? 0;
    showResult(event.target, `${picker.item.name}: ${signed(qty)} at ${placeName(res.location)} (${reason.textContent}). `,
      `On hand there now ${here}. `, stockLink(sku));
    f.note.value = "";
    picker.refresh();
  });
}

async function transfer(event) {
  event.preventDefault();
  await submitting(event.currentTarget, async (f) => {
    const picker = pickerOf(f.sku);
    const sku = await picker.sku();
    const qty = whole(f.qty.value, "qty");
    const res = await api("/api/v1/transfers", {
      method: "POST", body: { sku, from: f.from.value, to: f.to.value, qty, note: f.note.value.trim() },
    });
    const at = (where) => res.levels.find((l) => l.location === where)?.on_hand ?? 0;
    showResult(event.target, `Moved ${qty} × ${picker.item.name} from ${placeName(res.from)} to ${placeName(res.to)}. `,
      `Now ${placeName(res.from)} ${at(res.from)}, ${placeName(res.to)} ${at(res.to)}. `, stockLink(sku));
    f.note.value = "";
    picker.refresh();
  });
}

function step(event) {
  const button = event.target.closest("[data-step]");
  if (!button) return;
  const input = button.parentElement.querySelector("input");
  const now = Number(String(input.value).replace("−", "-")) || 0;
  let next = now + Number(button.dataset.step);
  if (next === 0) next += Number(button.dataset.step); // 0 is never an adjustment: skip over it
  input.value = String(next);
}

// -- the review bin -------------------------------------------------------------------------------

const ACTIONS = { restock: "Restock", refurbish: "Refurbish", markdown: "Markdown", write_off: "Write off" };

function reviewRow(level) {
  const qty = el("input", { class: "input num", inputmode: "numeric", value: String(level.on_hand), "aria-label": `How many of ${level.name}`,
    "data-testid": "review-qty" });
  const markdown = el("input", { class: "input", name: "markdown_sku", "data-picker": "", "data-testid": "review-markdown-item",
    placeholder: "Markdown item: name, SKU or scan", autocomplete: "off" });
  const markdownField = el("div", { class: "field picker", hidden: true }, markdown);
  const error = el("p", { class: "field-error", role: "alert", "data-testid": "review-error", hidden: true });
  const li = el("li", { class: "review-row", "data-testid": "review-row", dataset: { sku: level.sku } },
    el("div", { class: "review-head" }, el("a", { href: `/stock/${enc(level.sku)}`, "data-nav": "" }, level.name || level.sku),
      el("span", { class: "mono muted" }, level.sku), el("span", { class: "spacer" }), el("strong", {}, `${level.on_hand} in the bin`)),
    el("div", { class: "review-actions" }, qty, ...Object.entries(ACTIONS).map(([action, label]) => el("button", {
      type: "button", class: `btn ${action === "write_off" ? "btn-danger" : ""}`, "data-testid": `review-${action.replace("_", "-")}`,
      onclick: (e) => dispose(e.currentTarget, action, level, qty, markdownField, error),
    }, label))), markdownField, error);
  makePicker(markdown);
  return li;
}

async function dispose(button, action, level, qtyBox, markdownField, error) {
  error.hidden = true;
  try {
    const body = { sku: level.sku, qty: whole(qtyBox.value, "qty"), action, from: "review" };
    if (action === "markdown") {
      if (markdownField.hidden) { // first tap: say which item it becomes
        markdownField.hidden = false;
        markdownField.querySelector("input").focus();
        return;
      }
      body.markdown_sku = await pickerOf(markdownField.querySelector("input")).sku();
    }
    if (action === "write_off" && !button.dataset.armed) { // a second tap writes it off: a stray finger should not
      button.dataset.armed = "1";
      setText(button, `Tap again to write off ${body.qty}`);
      return;
    }
    button.disabled = true;
    await api("/api/v1/stock/dispositions", { method: "POST", body });
    const box = $("review-result");
    box.replaceChildren(`${ACTIONS[action]}: ${body.qty} × ${level.name || level.sku}`,
      body.markdown_sku ? ` as ${body.markdown_sku}. ` : ". ", stockLink(level.sku));
    box.hidden = false;
    await loadReview();
  } catch (err) {
    setText(error, err.message);
    error.hidden = false;
    button.disabled = false;
  }
}

export async function loadReview() {
  const note = $("review-note");
  try {
    const res = await api("/api/v1/stock?location=review");
    const held = res.levels.filter((l) => l.on_hand > 0);
    $("review-list").replaceChildren(...held.map(reviewRow));
    setText(note, held.length ? "" : "The review bin is empty.");
  } catch (err) {
    setText(note, err.status === 404 || err.status === 405 ? "This hub can't list the review bin yet (it needs GET /api/v1/stock?location=)." : err.message);
  }
}

// -- exceptions -----------------------------------------------------------------------------------

export async function loadExceptions() {
  const note = $("exceptions-note");
  let ex;
  try {
    ex = await api("/api/v1/stock/exceptions");
  } catch (err) {
    return setText(note, err.message);
  }
  setText(note, "");
  const empty = (text) => [el("li", { class: "muted" }, text)];
  $("negative-list").replaceChildren(...(ex.negative_stock.length ? ex.negative_stock.map((n) => el("li", {
    class: "row", "data-testid": "negative-row", dataset: { sku: n.sku, location: n.location },
  }, el("a", { class: "grow", href: `/stock/${enc(n.sku)}`, "data-nav": "" }, n.name), el("span", { class: "mono muted" }, n.sku),
  el("span", {}, placeName(n.location)), el("strong", { class: "num bad" }, String(n.on_hand)))) : empty("No item is below zero.")));
  $("variance-list").replaceChildren(...(ex.variances.length ? ex.variances.map((v) => el("li", {
    class: "row", "data-testid": "variance-row", dataset: { sku: v.sku, sessionId: v.session_id },
  }, el("span", { class: "grow" }, v.name, el("span", { class: "sub" }, `counted ${v.counted}, expected ${v.ledger_qty} at ${placeName(v.location)}`)),
  el("strong", { class: "num" }, signed(v.variance)), el("span", { class: "num" }, money(v.variance_minor)),
  el("a", { class: "btn", href: `/stock?view=counts&session=${v.session_id}`, "data-nav": "" }, `Count #${v.session_id}`)))
    : empty("No count is waiting for approval.")));
  setText($("shrink-title"), `Shrink by reason, last ${ex.shrink.days} days`);
  const total = ex.shrink.by_reason.reduce((sum, r) => sum + r.cost_minor, 0);
  $("shrink-list").replaceChildren(...(ex.shrink.by_reason.length ? [...ex.shrink.by_reason.map((r) => el("li", {
    class: "row", "data-testid": "shrink-row", dataset: { reason: r.reason },
  }, el("span", { class: "grow" }, reasonLabel(r.reason)), el("span", { class: "num" }, `${r.qty} units, ${r.moves} moves`),
  el("strong", { class: "num" }, money(r.cost_minor)))), el("li", { class: "row total" }, el("span", { class: "grow" }, "Total at cost"),
    el("strong", { class: "num", "data-testid": "shrink-total" }, money(total)))] : empty("No shrink recorded.")));
}

const KINDS = { sale: "Sale", return: "Return", void: "Void", receive: "Received", transfer: "Transfer", adjustment: "Adjustment",
  count_variance: "Count", disposition: "Review bin" };
const reasonLabel = (code) => ctx.reasons.adjustment.find((r) => r.code === code)?.label || String(code).replace(/_/g, " ");

// -- one item: its stock per location and its moves ----------------------------------------------

let itemSku = "";
let before = null;
let nextBalance = null; // the page after continues from here: the hub need not sum the moves since
let movesSeq = 0;

function moveRow(m) {
  const why = [KINDS[m.kind] || m.kind, m.reason && m.reason !== m.kind ? reasonLabel(m.reason) : ""].filter(Boolean).join(": ");
  const count = m.doc_type === "count" ? el("a", { href: `/stock?view=counts&session=${enc(m.doc_id)}`, "data-nav": "" }, ` count #${m.doc_id}`) : "";
  return el("tr", { "data-testid": "move-row", dataset: { moveId: m.id, qty: m.qty, balance: m.balance, location: m.location, reason: m.reason } },
    el("td", { title: m.at }, shortTime(m.at)), el("td", {}, placeName(m.location)),
    el("td", { class: `num ${m.qty < 0 ? "bad" : "good"}` }, signed(m.qty)),
    el("td", { class: "num", "data-testid": "move-balance" }, String(m.balance)),
    el("td", {}, why, count, el("span", { class: "sub" }, [who(m.actor), m.device, m.note && `“${m.note}”`].filter(Boolean).join(" · "))));
}

async function loadMoves({ more = false } = {}) {
  const seq = ++movesSeq;
  const params = new URLSearchParams({ limit: "50" });
  if ($("moves-location").value) params.set("location", $("moves-location").value);
  if (more && before) {
    params.set("before", String(before));
    if (nextBalance !== null) params.set("balance", String(nextBalance));
  }
  try {
    const h = await api(`/api/v1/stock/${enc(itemSku)}/moves?${params}`);
    if (seq !== movesSeq) return;
    if (!more) $("moves").replaceChildren();
    $("moves").append(...h.moves.map(moveRow));
    before = h.next_before;
    nextBalance = h.next_balance ?? null;
    $("moves-older").hidden = !before;
    setText($("moves-note"), $("moves").children.length ? "" : "No moves yet.");
  } catch (err) {
    if (seq === movesSeq) setText($("moves-note"), err.message);
  }
}

export async function openItem(sku) {
  itemSku = sku;
  before = null;
  $("stock-item-missing").hidden = true;
  setText($("stock-item-title"), "…");
  setText($("stock-item-sku"), sku);
  $("stock-item-link").href = `/items/${enc(sku)}`;
  $("moves").replaceChildren();
  loadMoves();
  try {
    const [item, stock] = await Promise.all([api(`/api/v1/items/${enc(sku)}`), api(`/api/v1/stock/${enc(sku)}`)]);
    if (itemSku !== sku) return;
    setText($("stock-item-title"), item.name);
    document.title = `${item.name} · Stock · Backroom`;
    $("levels").replaceChildren(...(stock.locations.length ? stock.locations.map((l) => el("tr", {
      "data-testid": "level-row", dataset: { location: l.location, onHand: l.on_hand, reserved: l.reserved, available: l.available },
    }, el("td", {}, placeName(l.location)), el("td", { class: "num" }, String(l.on_hand)), el("td", { class: "num" }, String(l.reserved)),
    el("td", { class: "num" }, String(l.available)))) : [el("tr", {}, el("td", { colspan: "4", class: "muted" }, "No stock anywhere."))]));
  } catch (err) {
    if (itemSku !== sku) return;
    setText($("stock-item-missing"), err.message);
    $("stock-item-missing").hidden = false;
  }
}

/** Hook the ledger's forms and buttons up once. */
export function wireLedger() {
  fillReasons();
  $("moves-location").append(...ctx.locations.map((l) => el("option", { value: l.id }, l.name)));
  document.addEventListener("click", step);
  $("adjust-form").addEventListener("submit", adjust);
  $("transfer-form").addEventListener("submit", transfer);
  $("review-reload").addEventListener("click", loadReview);
  $("exceptions-reload").addEventListener("click", loadExceptions);
  $("moves-location").addEventListener("change", () => { before = null; loadMoves(); });
  $("moves-older").addEventListener("click", () => loadMoves({ more: true }));
}
