// The cart's adjustments: line and cart discounts with a reason, price overrides, quantity, the customer's
// price tier, the tax summary per rate, and the manager approvals they need (asked at payment, since an
// approval is good for a minute). The hub prices everything; this module only says what the cashier chose.
//
// Shortcuts (a tablet with a keyboard): F2 cart discount and tier, F3 adjust the last line, F4 void the last line.
import { el, formatMoney, moneyInputValue, parseMoney, setText } from "/static/common.js";
import { askManagerApproval } from "./register-approval.js";
import { modifierPicker } from "./register-modifiers.js";
import { cartChanged, cartHooks, quote, renderCart } from "./register-cart.js";
import { $, info, keys, load, locked, state } from "./register-state.js";
import { renderPay } from "./register-pay.js";

const REASONS = ["damaged", "loyalty", "price_match", "staff", "promotion"]; // the hub's default store.discount_reasons
const TIERS = ["retail", "member", "wholesale"];
const extrasKey = `${keys.cart}.extras`;

const words = (code) => code.replaceAll("_", " ");
const reasons = () => quote.last?.discount_reasons || REASONS;

export function describeDiscount(d) {
  if (!d) return "";
  const off = d.percent_bp ? `${d.percent_bp / 100}%` : formatMoney(d.amount_minor, state.currency);
  return `−${off} ${words(d.reason)}`;
}

// -- the approvals a cart needs, asked when the cashier completes the sale -----------------------

const needed = () => (quote.state === "ok" ? quote.last?.approvals_needed || [] : []);
const needKey = () => JSON.stringify(needed());

/** Whether the hub said this cart needs a manager's approval the register has not got yet. */
export function approvalsMissing() {
  return needed().length > 0 && state.approvals?.key !== needKey();
}

/** Ask a manager for each approval the cart needs; false when one was refused or cancelled. */
export async function askApprovals() {
  const key = needKey();
  const tokens = {};
  for (const need of needed()) {
    const token = await askManagerApproval(need.action, need.details);
    if (!token) {
      info("Not approved: change the discount or the price, or ask a manager.");
      return false;
    }
    tokens[need.action] = token;
  }
  state.approvals = { key, tokens };
  return true;
}

/** The approvals for the sale being sent; each token is spent once, so they go with this body only. */
export function approvalFields() {
  const a = state.approvals;
  state.approvals = null;
  return a && a.key === needKey() && Object.keys(a.tokens).length ? { approvals: a.tokens } : {};
}

// -- the adjust sheet: one line (qty, discount, price) or the whole cart (tier, discount) ---------

function sheet(title, testid, build) {
  const back = el("div", { class: "sheet-backdrop adjust-backdrop", "data-testid": testid });
  const close = () => { back.remove(); $("code-input").focus({ preventScroll: true }); };
  const box = el("section", { class: "sheet adjust-sheet", role: "dialog", "aria-modal": "true", "aria-label": title,
    onkeydown: (e) => { if (e.key === "Escape") close(); } });
  back.addEventListener("click", (e) => { if (e.target === back) close(); });
  box.append(el("h2", {}, title), ...build(close).filter(Boolean));
  box.addEventListener("keydown", (e) => { // Enter in a field applies, as the Apply button
    if (e.key === "Enter" && e.target instanceof HTMLInputElement) box.querySelector(".sheet-actions .btn-primary")?.click();
  });
  back.append(box);
  document.body.append(back);
  box.querySelector("input, button")?.focus();
  return close;
}

function choice(name, options, current, label = words) {
  const group = el("div", { class: "choices", role: "group", "aria-label": name });
  for (const o of options) {
    group.append(el("button", { type: "button", class: "btn", dataset: { value: o }, "aria-pressed": String(o === current),
      onclick: (e) => { for (const b of group.children) b.setAttribute("aria-pressed", String(b === e.currentTarget)); } },
    label(o)));
  }
  group.value = () => group.querySelector('[aria-pressed="true"]')?.dataset.value || "";
  return group;
}

/** The discount fields: a percent or an amount, and the reason. read() -> discount, null (none) or an error text. */
function discountFields(current, reason = "") {
  const kind = choice("Discount as", ["percent", "amount"], current?.amount_minor ? "amount" : "percent",
    (k) => (k === "percent" ? "%" : "Amount"));
  const value = el("input", { class: "input", type: "text", inputmode: "decimal", autocomplete: "off",
    "data-testid": "discount-value", "aria-label": "Discount", placeholder: "none",
    value: current ? (current.percent_bp ? String(current.percent_bp / 100) : moneyInputValue(current.amount_minor)) : "" });
  const why = choice("Reason", reasons(), current?.reason || reason);
  const read = () => {
    const text = value.value.trim();
    if (!text) return null;
    if (kind.value() === "percent") {
      const bp = Math.round(Number(text.replace(",", ".")) * 100);
      if (!(bp > 0 && bp <= 10000)) return `A discount is more than 0% and at most 100% (not ${text}).`;
      return why.value() ? { percent_bp: bp, reason: why.value() } : "Pick the reason for the discount.";
    }
    const minor = parseMoney(text);
    if (!minor) return `${text} is not an amount.`;
    return why.value() ? { amount_minor: minor, reason: why.value() } : "Pick the reason for the discount.";
  };
  return { nodes: [el("div", { class: "adjust-row" }, el("span", { class: "label" }, "Discount"), kind, value),
    el("div", { class: "adjust-row" }, el("span", { class: "label" }, "Reason"), why)], read, why };
}

function lineSheet(line) {
  if (locked()) return;
  sheet(`Adjust ${line.name}`, "adjust-sheet", (close) => {
    const msg = el("p", { class: "notice notice-bad", role: "alert", hidden: true });
    const qty = el("input", { class: "input", type: "text", inputmode: "numeric", "data-testid": "adjust-qty",
      "aria-label": "Quantity", value: String(line.qty), disabled: line.unit !== "each" });
    const disc = discountFields(line.discount, line.price_override?.reason);
    const mods = line.unit === "each" ? modifierPicker(line) : null;
    const listed = quote.last?.byLine.get(line.key);
    const price = el("input", { class: "input", type: "text", inputmode: "decimal", autocomplete: "off",
      "data-testid": "override-price", "aria-label": "New unit price",
      placeholder: formatMoney(line.price_override ? line.price_override.unit_price_minor : listed?.unit_price_minor ?? line.price_minor, state.currency),
      value: line.price_override ? moneyInputValue(line.price_override.unit_price_minor) : "" });
    const apply = () => {
      const d = disc.read();
      const n = Number(qty.value);
      const p = price.value.trim();
      const newPrice = p ? parseMoney(p) : null;
      let problem = typeof d === "string" ? d : "";
      if (!problem && line.unit === "each" && !(Number.isInteger(n) && n >= 1 && n <= 9999)) problem = "Quantity is a whole number from 1.";
      if (!problem && p && newPrice === null) problem = `${p} is not a price.`;
      if (!problem && p && !disc.why.value()) problem = "Pick the reason for the price change.";
      if (problem) {
        msg.hidden = false;
        setText(msg, problem);
        return;
      }
      if (line.unit === "each") line.qty = n;
      const chosen = mods?.read();
      if (chosen) line.modifiers = chosen.length ? chosen : undefined;
      line.discount = d || undefined;
      line.price_override = p ? { unit_price_minor: newPrice, reason: disc.why.value() } : undefined;
      changed(`${line.name}: ${[d && describeDiscount(d), p && `price ${formatMoney(newPrice, state.currency)}`].filter(Boolean).join(", ") || "no adjustments"}`);
      close();
    };
    return [
      el("div", { class: "adjust-row" }, el("span", { class: "label" }, "Quantity"), qty),
      mods?.node,
      ...disc.nodes,
      el("div", { class: "adjust-row" }, el("span", { class: "label" }, "Price"), price,
        el("span", { class: "muted hint" }, "a new price needs a manager")),
      msg,
      el("div", { class: "sheet-actions" },
        el("button", { type: "button", class: "btn", "data-testid": "adjust-cancel", onclick: close }, "Cancel"),
        el("button", { type: "button", class: "btn btn-primary", "data-testid": "adjust-apply", onclick: apply }, "Apply")),
    ];
  });
}

export function cartSheet() {
  if (locked() || !state.lines.length) return;
  sheet("Whole cart", "cart-sheet", (close) => {
    const msg = el("p", { class: "notice notice-bad", role: "alert", hidden: true });
    const tier = choice("Price tier", TIERS, state.tier);
    tier.dataset.testid = "tier-choice";
    const disc = discountFields(state.cartDiscount);
    const apply = () => {
      const d = disc.read();
      if (typeof d === "string") {
        msg.hidden = false;
        setText(msg, d);
        return;
      }
      state.tier = tier.value() || "retail";
      state.cartDiscount = d;
      changed(d ? `Cart discount ${describeDiscount(d)}` : `Prices: ${state.tier}`);
      close();
    };
    return [el("div", { class: "adjust-row" }, el("span", { class: "label" }, "Customer"), tier), ...disc.nodes, msg,
      el("div", { class: "sheet-actions" },
        el("button", { type: "button", class: "btn", onclick: close }, "Cancel"),
        el("button", { type: "button", class: "btn btn-primary", "data-testid": "cart-apply", onclick: apply }, "Apply"))];
  });
}

function changed(text) {
  saveExtras();
  cartChanged();
  renderCart();
  renderPay();
  info(text);
}

// -- kept with the cart across reloads; gone with it ---------------------------------------------

function saveExtras() {
  if (state.lines.length && (state.tier !== "retail" || state.cartDiscount)) {
    localStorage.setItem(extrasKey, JSON.stringify({ tier: state.tier, cartDiscount: state.cartDiscount }));
  } else {
    localStorage.removeItem(extrasKey);
  }
}

export function restoreExtras(extras = load(extrasKey)) {
  state.tier = TIERS.includes(extras?.tier) ? extras.tier : "retail";
  state.cartDiscount = extras?.cartDiscount || null;
}

// -- on screen: each line's adjustments, the cart discount and the tax per rate -------------------

function decorate(q) {
  if (!state.lines.length && (state.cartDiscount || state.tier !== "retail")) {
    restoreExtras({}); // a new customer: retail prices, no discount
    saveExtras();
  }
  for (const li of $("cart-lines").children) {
    const line = state.lines.find((l) => l.key === li.dataset.key);
    const name = li.querySelector(".name");
    if (!line || !name) continue;
    if (!name.hasAttribute("role")) {
      name.setAttribute("role", "button");
      name.tabIndex = 0;
      name.title = "Adjust: quantity, discount, price";
      name.addEventListener("click", () => lineSheet(state.lines.find((l) => l.key === li.dataset.key)));
      name.addEventListener("keydown", (e) => { if (e.key === "Enter") name.click(); });
    }
    const parts = [line.modifiers?.length && `+ ${line.modifiers.map(words).join(", ")}`,
      line.discount && describeDiscount(line.discount),
      line.price_override && `price changed (${words(line.price_override.reason)})`].filter(Boolean);
    let tag = name.querySelector(".line-adjust");
    if (parts.length && !tag) name.append(tag = el("span", { class: "line-adjust", "data-testid": "line-adjust" }));
    if (tag) { setText(tag, parts.join(" · ")); tag.hidden = !parts.length; }
    li.dataset.discount = line.discount ? "yes" : "";
  }
  renderSummary(q);
}

function renderSummary(q) {
  const box = $("tax-summary");
  const ok = q.state === "ok" && state.lines.length;
  const rows = [];
  if (state.tier !== "retail") rows.push(el("div", { "data-testid": "cart-tier" }, `${state.tier[0].toUpperCase()}${state.tier.slice(1)} prices`));
  if (state.cartDiscount) {
    const off = ok ? quote.last.lines.reduce((n, l) => n + (l.cart_discount_minor || 0), 0) : null;
    rows.push(el("div", { "data-testid": "cart-discount" }, el("span", {}, `Discount ${describeDiscount(state.cartDiscount).slice(1)}`),
      el("span", { class: "num" }, off === null ? "…" : formatMoney(-off, state.currency))));
  }
  for (const t of ok ? quote.last.taxes || [] : []) {
    rows.push(el("div", { "data-testid": "tax-rate", dataset: { rate: String(t.rate_bp), minor: String(t.tax_minor) } },
      el("span", {}, `Tax ${t.rate_bp / 100}% on ${formatMoney(quote.last.prices_include_tax ? t.gross_minor : t.net_minor, state.currency)}`),
      el("span", { class: "num" }, formatMoney(t.tax_minor, state.currency))));
  }
  if (ok && quote.last.approvals_needed?.length) {
    rows.push(el("div", { class: "approval-note", "data-testid": "approval-note" }, "A manager approves this at payment"));
  }
  box.replaceChildren(...rows);
  box.hidden = !rows.length;
  $("cart-adjust").disabled = !state.lines.length || locked();
}

// -- start --------------------------------------------------------------------------------------

function lastLine() {
  return state.lines[state.lines.length - 1];
}

function shortcuts(e) {
  if (document.querySelector(".sheet-backdrop:not([hidden])") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "F2") cartSheet();
  else if (e.key === "F3" && lastLine()) lineSheet(lastLine());
  else if (e.key === "F4" && lastLine() && !locked()) {
    const gone = state.lines.pop();
    cartChanged();
    renderCart();
    renderPay();
    info(`Removed ${gone.name}`);
  } else return;
  e.preventDefault();
}

function start() {
  restoreExtras();
  $("cart-total").closest(".sum-block").append(
    el("div", { id: "tax-summary", class: "tax-summary", "data-testid": "tax-summary", "aria-live": "polite", hidden: true }));
  $("cart-tools").append(el("button", { id: "cart-adjust", type: "button", class: "btn", "data-testid": "cart-adjust",
    title: "Discount the whole cart, or change the price tier (F2)", "data-key": "F2", "aria-keyshortcuts": "F2",
    onclick: cartSheet }, "Discount / tier"));
  cartHooks.rendered.push(decorate);
  document.addEventListener("keydown", shortcuts);
}

start();
