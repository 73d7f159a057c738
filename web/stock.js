// The stock pages for managers: which view the address asks for, and what every view shares
// (the item picker, errors next to fields, the store's locations). The views are in
// stock-ledger.js (adjust, transfer, review bin, exceptions, an item's moves), stock-receive.js
// and stock-counts.js; they import from here and are only called once this module has run.
import { ApiError, api, el, formatMoney, getSession, inPageLinks, setText, signOut } from "/static/common.js";
import { openCounts, wireCounts } from "./stock-counts.js";
import { loadExceptions, loadReview, openItem, wireLedger } from "./stock-ledger.js";
import { openReceive, wireReceive } from "./stock-receive.js";

export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;
export const ctx = { me: null, currency: "", locations: [], reasons: { adjustment: [] } };
const VIEWS = ["adjust", "transfer", "receive", "review", "exceptions", "counts", "item"];
const DEBOUNCE_MS = 250; // a person pausing between letters; a scanner types far faster and ends with Enter
const PICKER_SIZE = 8;

export const money = (minor) => formatMoney(minor, ctx.currency);
export const signed = (n) => (n > 0 ? `+${n}` : n < 0 ? `−${-n}` : "0");
export const who = (actor) => String(actor || "?").replace(/^(user|token):/, "");
export const placeName = (id) => ctx.locations.find((l) => l.id === id)?.name || id;
export const stockLink = (sku, text = "See its moves") => el("a", { href: `/stock/${enc(sku)}`, "data-nav": "" }, text);
export const shortTime = (iso) => new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });

// -- errors next to their field, results at the form's foot -----------------------------------

export function clearErrors(form) {
  for (const box of form.querySelectorAll("[data-error-for]")) box.hidden = true;
  for (const input of form.querySelectorAll("[aria-invalid=true]")) input.setAttribute("aria-invalid", "false");
  const result = form.querySelector("[data-result]");
  if (result) result.hidden = true;
}

/** The API's error next to the field it names ("lines[2].qty" marks that line's box), else at the form's foot. */
export function showError(form, err) {
  const field = String(err.field || "");
  const line = /^lines\[(\d+)\]/.exec(field);
  const name = line ? "lines" : field.split(".")[0];
  const box = (name && form.querySelector(`[data-error-for~="${CSS.escape(name)}"]`)) || form.querySelector('[data-error-for~="form"]');
  box.textContent = err.message;
  box.hidden = false;
  const input = line ? form.querySelector(`[data-line-index="${line[1]}"]`) : name && form.elements.namedItem(name);
  if (input instanceof HTMLElement) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

export function showResult(form, ...parts) {
  const box = form.querySelector("[data-result]");
  box.replaceChildren(...parts);
  box.hidden = false;
}

/** Run a form's action with its button held down; any failure lands next to its field. */
export async function submitting(form, action) {
  clearErrors(form);
  const button = form.querySelector("[type=submit]");
  button.disabled = true;
  try {
    await action(form.elements);
  } catch (err) {
    showError(form, err);
  } finally {
    button.disabled = false;
  }
}

/** "12" -> 12; refused with a message naming the field. signed allows "-3" (and the − sign). */
export function whole(text, field, { label = "Quantity", signed: withSign = false } = {}) {
  const t = String(text).trim().replace("−", "-");
  if (!(withSign ? /^[-+]?\d{1,8}$/ : /^\d{1,8}$/).test(t) || Number(t) === 0) {
    const what = withSign ? "a whole number, not 0 (− takes stock out)" : "a whole number above 0";
    throw new ApiError(`${label} must be ${what}, not "${text}".`, { field });
  }
  return Number(t);
}

// -- the item picker: search as you type, or scan into the box ---------------------------------

const pickers = new WeakMap();
export const pickerOf = (input) => pickers.get(input);

/** Results under an item box as the person types; a scanner's code and Enter picks its one item. */
export function makePicker(input) {
  const testid = input.dataset.testid;
  const list = el("ul", { class: "picker-list", role: "listbox", "data-testid": `${testid}-options`, hidden: true });
  const chosen = el("p", { class: "picker-chosen", "data-testid": `${testid}-chosen`, role: "status", hidden: true });
  input.after(list, chosen);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-expanded", "false");
  let timer = 0;
  let seq = 0; // answers to older searches are dropped
  let item = null;
  const show = (open) => {
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
  };

  async function levels(sku) {
    try {
      const { locations } = await api(`/api/v1/stock/${enc(sku)}`);
      if (item?.sku !== sku || input.dataset.pickMode === "add") return;
      const text = locations.length ? locations.map((l) => `${placeName(l.location)} ${l.on_hand}`).join(" · ") : "no stock anywhere";
      chosen.replaceChildren(el("strong", {}, item.name), " ", el("span", { class: "mono" }, sku), ` — ${text} `, stockLink(sku, "moves"));
    } catch {
      // the stock line is a help only: the chosen item stays chosen
    }
  }

  function pick(found) {
    clearTimeout(timer);
    seq++;
    show(false);
    item = found;
    input.setAttribute("aria-invalid", "false");
    if (input.dataset.pickMode === "add") { // the box keeps taking items (a count of chosen items)
      input.value = "";
    } else {
      input.value = `${found.name} (${found.sku})`;
      chosen.replaceChildren(el("strong", {}, found.name), " ", el("span", { class: "mono" }, found.sku));
      chosen.hidden = false;
      levels(found.sku);
    }
    input.dispatchEvent(new CustomEvent("item-picked", { detail: found, bubbles: true }));
  }

  const option = (found) => el("li", { role: "option" }, el("button", {
    type: "button", class: "picker-option", "data-testid": "picker-option", dataset: { sku: found.sku },
    onclick: () => { pick(found); input.focus(); },
  }, el("span", {}, found.name), el("span", { class: "mono muted" }, found.sku)));

  async function search(enter = false) {
    clearTimeout(timer);
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) return show(false);
    let res;
    try {
      res = await api(`/api/v1/items?${new URLSearchParams({ q, limit: String(PICKER_SIZE) })}`);
    } catch (err) {
      if (mine !== seq) return;
      list.replaceChildren(el("li", { class: "muted" }, err.message));
      return show(true);
    }
    if (mine !== seq) return;
    const exact = res.items.find((i) => i.sku.toLowerCase() === q.toLowerCase());
    if (enter && (exact || res.items.length === 1)) return pick(exact || res.items[0]);
    list.replaceChildren(...(res.items.length ? res.items.map(option) : [el("li", { class: "muted" }, `No item matches “${q}”.`)]));
    show(true);
  }

  input.addEventListener("input", () => {
    item = null;
    chosen.hidden = true;
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault(); // Enter is the scanner's end of code, not "submit the form"
      search(true);
    } else if (e.key === "Escape") show(false);
  });
  input.addEventListener("blur", () => setTimeout(() => { if (!list.contains(document.activeElement)) show(false); }, 200));

  const picker = {
    get item() { return item; },
    /** The chosen item's SKU; a typed exact SKU or a single match counts as chosen. */
    async sku() {
      if (item) return item.sku;
      const q = input.value.trim();
      if (!q) throw new ApiError("Choose the item: type its name or SKU, or scan it.", { field: input.name || "sku" });
      const res = await api(`/api/v1/items?${new URLSearchParams({ q, limit: "2" })}`);
      const exact = res.items.find((i) => i.sku.toLowerCase() === q.toLowerCase());
      if (!exact && res.items.length !== 1) {
        throw new ApiError(`“${q}” is not one item: pick it from the list under the box.`, { field: input.name || "sku" });
      }
      pick(exact || res.items[0]);
      return item.sku;
    },
    refresh() { if (item) levels(item.sku); },
    clear() { item = null; input.value = ""; chosen.hidden = true; show(false); },
  };
  pickers.set(input, picker);
  if (input.value.trim()) search(); // typed (or scanned) before the page was ready
  return picker;
}

// -- views: one page, the address says which ----------------------------------------------------

function route() {
  const sku = location.pathname.split("/")[2];
  let view = sku ? "item" : new URLSearchParams(location.search).get("view") || "adjust";
  if (!VIEWS.includes(view)) view = "adjust";
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll(".stock-nav [data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view !== "item") document.title = `${document.querySelector(`.stock-nav [data-view=${view}]`).textContent} · Stock · Backroom`;
  if (view === "item") openItem(decodeURIComponent(sku));
  if (view === "receive") openReceive();
  if (view === "review") loadReview();
  if (view === "exceptions") loadExceptions();
  if (view === "counts") openCounts(new URLSearchParams(location.search).get("session"));
}

export const go = inPageLinks(() => route());

async function start() {
  $("sign-out").addEventListener("click", () => signOut());
  try {
    ctx.me = await getSession();
    const [places, reasons] = await Promise.all([api("/api/v1/locations"), api("/api/v1/reason-codes")]);
    ctx.locations = places.locations.filter((l) => l.active);
    ctx.reasons = reasons;
  } catch (err) {
    if (err.status === 401) return; // api() is already on its way to the sign-in page
    setText($("banner"), err.message);
    $("banner").hidden = false;
    return;
  }
  ctx.currency = ctx.me.store?.currency || "";
  document.body.dataset.role = ctx.me.role;
  setText($("store-name"), ctx.me.store?.name || "Backroom");
  setText($("signed-in"), `${ctx.me.user} (${ctx.me.role})`);
  for (const select of document.querySelectorAll("select[data-locations]")) {
    select.replaceChildren(...ctx.locations.map((l) => el("option", { value: l.id, selected: l.id === select.dataset.default }, l.name)));
  }
  for (const input of document.querySelectorAll("input[data-picker]")) makePicker(input);
  wireLedger();
  wireReceive();
  wireCounts();
  addEventListener("popstate", route);
  if (ctx.me.role === "cashier") { // the ledger pages are for managers; a counter goes straight to the counting page
    setText($("banner"), "Stock pages are for managers and owners. Ask one to open a count for you.");
    $("banner").hidden = false;
    return;
  }
  route();
}

start();
