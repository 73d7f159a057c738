// Between sales: park the cart and resume it later (here or at another register), record a voided cart
// for loss prevention, and post-void the sale just completed with a manager's approval.
//
// Shortcuts: F7 park the cart, F8 the parked carts.
import { api, el, formatMoney, getSession, newId, setText, timeAgo } from "/static/common.js";
import { askManagerApproval } from "./register-approval.js";
import { cartChanged, cartHooks, quote, renderCart } from "./register-cart.js";
import { restoreExtras } from "./register-discounts.js";
import { busy } from "./register-feedback.js";
import { $, info, load, locked, registerId, showError, state } from "./register-state.js";

const base = `/api/v1/registers/${encodeURIComponent(registerId)}`;
const voidsKey = `backroom.voids.${registerId}`; // cart voids not yet told to the hub
const VOID_REASONS = ["Rang twice", "Wrong items", "Customer changed their mind", "Price dispute"];

function sheet(title, testid, build) {
  const back = el("div", { class: "sheet-backdrop adjust-backdrop", "data-testid": testid });
  const close = () => { back.remove(); $("code-input").focus({ preventScroll: true }); };
  const box = el("section", { class: "sheet adjust-sheet", role: "dialog", "aria-modal": "true", "aria-label": title,
    onkeydown: (e) => { if (e.key === "Escape") close(); } });
  back.addEventListener("click", (e) => { if (e.target === back) close(); });
  box.append(el("h2", {}, title), ...build(close));
  back.append(box);
  document.body.append(back);
  box.querySelector("input, button")?.focus();
}

function emptyCart() {
  state.lines = [];
  restoreExtras({});
  cartChanged();
  renderCart();
}

// -- park and resume ---------------------------------------------------------------------------

function parkSheet() {
  if (locked() || !state.lines.length) return;
  sheet("Park this cart", "park-sheet", (close) => {
    const label = el("input", { class: "input", type: "text", maxlength: "60", autocomplete: "off",
      "data-testid": "park-label", placeholder: "Who it is for (optional), e.g. blue coat" });
    const park = async () => {
      if (confirm.disabled) return;
      confirm.disabled = true;
      busy(confirm, "Parking…"); // the sheet closes when the hub answers
      const cart = { lines: state.lines, tier: state.tier, cartDiscount: state.cartDiscount };
      try {
        await api(`${base}/parked`, { method: "POST", body: { id: newId(), cart, label: label.value.trim() } });
        close();
        emptyCart();
        info(`Cart parked${label.value.trim() ? ` as “${label.value.trim()}”` : ""}. Resume it from Parked.`);
        refreshCount();
      } catch (err) {
        close();
        showError(`The cart was not parked: ${err.message}`);
      }
    };
    const confirm = el("button", { type: "button", class: "btn btn-primary", "data-testid": "park-confirm", onclick: park },
      "Park");
    label.addEventListener("keydown", (e) => { if (e.key === "Enter") park(); });
    return [label, el("div", { class: "sheet-actions" },
      el("button", { type: "button", class: "btn", onclick: close }, "Cancel"), confirm)];
  });
}

async function parkedSheet() {
  if (locked()) return;
  let list;
  const done = busy($("parked-open")); // until the hub lists them
  try {
    list = (await api(`${base}/parked`)).parked;
  } catch (err) {
    showError(`Parked carts can't be listed: ${err.message}`);
    return;
  } finally {
    done();
  }
  sheet("Parked carts", "parked-sheet", (close) => {
    const resume = async (p, button) => {
      if (state.lines.length) {
        showError("Finish or park the sale on screen first, then resume the parked cart.");
        close();
        return;
      }
      busy(button, "Resuming…"); // the sheet closes when the hub answers
      try {
        const got = await api(`${base}/parked/${encodeURIComponent(p.id)}/resume`, { method: "POST", body: {} });
        close();
        state.lines = got.cart.lines;
        restoreExtras({ tier: got.cart.tier, cartDiscount: got.cart.cartDiscount });
        cartChanged();
        renderCart();
        info(`Resumed the cart ${p.parked_by} parked ${timeAgo(p.parked_at)}.`);
      } catch (err) {
        close();
        showError(err.message);
      }
      refreshCount();
    };
    const rows = list.map((p) => el("li", { class: "parked", "data-testid": "parked-cart", dataset: { id: p.id } },
      el("div", {}, el("strong", {}, p.label || `${p.line_count} line${p.line_count === 1 ? "" : "s"}`),
        el("div", { class: "muted" }, `${p.parked_by} at register ${p.register_id}, ${timeAgo(p.parked_at)}`
          + (p.label ? ` · ${p.line_count} line${p.line_count === 1 ? "" : "s"}` : ""))),
      el("button", { type: "button", class: "btn btn-primary", "data-testid": "resume", onclick: (e) => resume(p, e.currentTarget) }, "Resume")));
    return [list.length ? el("ul", { class: "parked-list" }, ...rows) : el("p", { class: "muted" }, "No carts are parked."),
      el("button", { type: "button", class: "btn", onclick: close }, "Close")];
  });
}

let counting = null;
let counted = false; // the parked count is asked once someone is signed in, then after each park and resume

async function refreshCount() {
  try {
    const n = (await api(`${base}/parked`, { noLoginRedirect: true })).parked.length;
    setText($("parked-open"), n ? `Parked (${n})` : "Parked");
    if (!counted) sendVoids();
    counted = true;
  } catch {
    // signed out, or the hub is out of reach: asked again on the next render
  }
}

// -- a voided cart is told to the hub (kept here until it is) -----------------------------------

async function sendVoids() {
  const waiting = load(voidsKey) || [];
  while (waiting.length) {
    try {
      await api(`${base}/cart-voids`, { method: "POST", body: waiting[0], noLoginRedirect: true });
    } catch (err) {
      if (err.status === 0 || err.status === 401 || err.status >= 500) break; // again after the next void or sign-in
    }
    waiting.shift();
    localStorage.setItem(voidsKey, JSON.stringify(waiting));
  }
}

function cartVoided(lines) {
  const priced = lines.map((l) => quote.last?.byLine.get(l.key));
  const total = priced.every((q) => q) ? priced.reduce((n, q) => n + q.total_minor, 0) : null;
  const waiting = load(voidsKey) || [];
  waiting.push({ id: newId(), total_minor: total, reason: "",
    lines: lines.map((l, i) => ({ sku: l.sku, name: l.name, unit: l.unit, qty: l.qty, total_minor: priced[i]?.total_minor ?? null })) });
  localStorage.setItem(voidsKey, JSON.stringify(waiting));
  info(total === null ? "Cart voided." : `Cart voided (${formatMoney(total, state.currency)}).`);
  sendVoids();
}

// -- post-void the sale on the result sheet ----------------------------------------------------

function postVoidSheet() {
  const sale = state.result;
  if (!sale?.id || !sale.number) return;
  sheet(`Void sale #${sale.number}`, "post-void-sheet", (close) => {
    const msg = el("p", { class: "notice notice-bad", role: "alert", hidden: true });
    const go = async (reason, button) => {
      const done = busy(button);
      try {
        const me = await getSession();
        const body = { reason };
        if (!["manager", "owner"].includes(me.role)) {
          const token = await askManagerApproval("post_void", { sale_id: sale.id });
          if (!token) return;
          body.approval = token;
        }
        await api(`/api/v1/sales/${encodeURIComponent(sale.id)}/void`, { method: "POST", body });
        close();
        sale.voided = true;
        $("post-void").hidden = true;
        const out = $("void-status");
        setText(out, `Sale #${sale.number} voided: ${reason}. Give back ${formatMoney(sale.total_minor, sale.currency)}.`);
        out.hidden = false;
      } catch (err) {
        msg.hidden = false;
        setText(msg, err.message);
      } finally {
        done();
      }
    };
    return [el("p", {}, "Why is the sale voided? Its stock comes back and its payment is reversed."),
      el("div", { class: "choices", role: "group", "aria-label": "Reason" },
        ...VOID_REASONS.map((r) => el("button", { type: "button", class: "btn", onclick: (e) => go(r, e.currentTarget) }, r))),
      msg, el("button", { type: "button", class: "btn", onclick: close }, "Cancel")];
  });
}

// -- start --------------------------------------------------------------------------------------

function shortcuts(e) {
  if (document.querySelector(".sheet-backdrop:not([hidden])") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "F7") parkSheet();
  else if (e.key === "F8") parkedSheet();
  else return;
  e.preventDefault();
}

function render() {
  if (!counted && !counting) counting = refreshCount().finally(() => { counting = null; });
  const park = $("park");
  if (park) park.disabled = !state.lines.length || locked();
  const result = $("post-void");
  if (result) result.hidden = !state.result?.number || Boolean(state.result.voided);
  if (!state.result?.voided) $("void-status").hidden = true;
}

function start() {
  $("cart-tools").append(
    el("button", { id: "park", type: "button", class: "btn", "data-testid": "park", title: "Park this cart (F7)",
      "data-key": "F7", "aria-keyshortcuts": "F7",
      onclick: parkSheet, disabled: true }, "Park"),
    el("button", { id: "parked-open", type: "button", class: "btn", "data-testid": "parked-open",
      title: "Parked carts (F8)", "data-key": "F8", "aria-keyshortcuts": "F8", onclick: parkedSheet }, "Parked"));
  $("new-sale").before(el("p", { id: "void-status", class: "notice notice-warn", role: "status",
    "data-testid": "void-status", hidden: true }));
  $("new-sale").before(el("button", { id: "post-void", type: "button", class: "btn btn-danger", "data-testid": "post-void",
    hidden: true, onclick: postVoidSheet }, "Void this sale"));
  cartHooks.rendered.push(render);
  cartHooks.voided.push(cartVoided);
  document.addEventListener("keydown", shortcuts);
  new MutationObserver(render).observe($("result-sheet"), { attributes: true, attributeFilter: ["hidden"] });
}

start();
