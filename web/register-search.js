// Finding an item without a barcode: results by name, SKU or code as the cashier types in the code box,
// and a parent item's variants to pick from. And a keyboard-wedge scanner typing while another field has
// the focus: a fast burst of keys ending in Enter is a scan, so it goes to the cart, not into that field.
import { api, el, formatMoney, sentence } from "/static/common.js";
import { offlineSearch } from "./register-catalog.js";
import { busy } from "./register-feedback.js";
import { $, state } from "./register-state.js";

export const SEARCH = {
  debounceMs: 200, // typing pauses this long before the hub is asked
  minChars: 2,
  limit: 8,
  burstGapMs: 35, // a scanner types faster than anyone: keys closer than this belong to one burst
  burstMin: 4, // and a scan is at least this many characters
};

let timer = null;
let seq = 0;
let burst = { keys: "", last: 0, target: null };

function results() {
  let box = $("search-results");
  if (!box) {
    box = el("ul", { id: "search-results", class: "search-results", "data-testid": "search-results", role: "listbox",
      "aria-label": "Items found", hidden: true });
    $("code-form").after(box);
  }
  return box;
}

function clear() {
  clearTimeout(timer);
  seq++;
  const box = results();
  box.replaceChildren();
  box.hidden = true;
}

function add(code) {
  clear();
  const input = $("code-input");
  input.value = code;
  $("code-form").requestSubmit();
}

async function variantsOf(item, button) {
  const done = button ? busy(button) : () => {};
  try {
    return (await api(`/api/v1/items?parent=${encodeURIComponent(item.sku)}&limit=24`)).items;
  } finally {
    done();
  }
}

async function pick(item, button) {
  const my = ++seq;
  let variants = [];
  try {
    variants = await variantsOf(item, button); // its variants are asked first
  } catch {
    // the hub is out of reach: add the item itself (the tablet's catalog prices it)
  }
  if (my !== seq) return;
  if (!variants.length) {
    add(item.sku);
    return;
  }
  show(variants, `${item.name}: pick one`);
}

/** A scanned or typed code that names a parent of variants (a shelf tag, a hang tag): its variants to
 * pick from, under the code box, instead of a line the hub would refuse. Returns the message to show
 * when there is nothing to pick. */
export async function offerVariants(item) {
  const my = ++seq;
  let variants;
  try {
    variants = (await variantsOf(item)).filter((v) => v.active);
  } catch (err) {
    return err.status === 0
      ? `${item.name} comes in variants, and the hub can't be reached to list them: scan the variant's own code.`
      : sentence(err.message);
  }
  if (my !== seq) return null;
  if (!variants.length) return `${item.name} has no variants for sale yet: a manager adds them in the item master.`;
  show(variants, `${item.name}: pick one (${item.variant_axes.join(", ")})`);
  results().querySelector("button")?.focus({ preventScroll: true });
  return null;
}

function show(items, heading = "") {
  const box = results();
  box.replaceChildren(
    ...(heading ? [el("li", { class: "search-heading muted" }, heading)] : []),
    ...items.map((it) => el("li", { role: "option" }, el("button", {
      type: "button", class: "btn search-result", "data-testid": "search-result", dataset: { sku: it.sku },
      onclick: (e) => pick(it, e.currentTarget),
    }, el("span", { class: "name" }, it.name), el("span", { class: "muted mono" }, it.sku),
    el("span", { class: "num" }, `${formatMoney(it.price_minor, state.currency)}${it.unit === "each" ? "" : it.unit === "g" ? "/kg" : "/l"}`)))),
    ...(items.length ? [] : [el("li", { class: "muted search-none" }, "Nothing found")]),
  );
  box.hidden = false;
}

async function search(text) {
  const my = ++seq;
  try {
    const found = await api(`/api/v1/items?q=${encodeURIComponent(text)}&limit=${SEARCH.limit}`);
    if (my === seq && $("code-input").value.trim() === text) show(found.items);
  } catch (err) {
    if (err.status !== 0) {
      if (my === seq) clear();
      return;
    }
    // the hub is out of reach: the tablet's own catalog answers (it prices what is picked, too)
    const items = await offlineSearch(text, SEARCH.limit).catch(() => []);
    if (my === seq && $("code-input").value.trim() === text) show(items, "From this tablet's catalog (the hub is out of reach)");
  }
}

function typed() {
  clearTimeout(timer);
  const text = $("code-input").value.trim();
  // a scan (a burst) never searches; digits alone are a code being typed unless they stop for a moment
  if (text.length < SEARCH.minChars || burst.keys.length >= SEARCH.burstMin) {
    if (text.length < SEARCH.minChars) clear();
    return;
  }
  timer = setTimeout(() => search(text), SEARCH.debounceMs);
}

/** Keys arriving faster than a person types, ending in Enter, in a field that is not the code box: a scan.
 * The field is the focused one, not the event's target: a key routed into the cash box by register-keys.js
 * (its first key was aimed at a button) belongs to the same burst as the ones after it. */
function watchBurst(e) {
  const now = performance.now();
  const at = document.activeElement;
  if (e.key === "Enter") {
    const { keys, target } = burst;
    const fast = keys.length >= SEARCH.burstMin && now - burst.last < SEARCH.burstGapMs * 3;
    burst = { keys: "", last: 0, target: null };
    if (fast && target instanceof HTMLInputElement && target.id !== "code-input" && target === at) {
      e.preventDefault();
      e.stopPropagation();
      if (target.value.endsWith(keys)) target.value = target.value.slice(0, -keys.length);
      target.dispatchEvent(new Event("input", { bubbles: true }));
      add(keys);
    }
    return;
  }
  if (e.key.length !== 1 || e.ctrlKey || e.metaKey || e.altKey) return;
  const joined = now - burst.last < SEARCH.burstGapMs && burst.target === at;
  burst = { keys: joined ? burst.keys + e.key : e.key, last: now, target: at };
}

function start() {
  const input = $("code-input");
  input.setAttribute("placeholder", "Item code, or type a name to search");
  input.addEventListener("input", typed);
  $("code-form").addEventListener("submit", clear);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") clear();
    if (e.key === "ArrowDown") results().querySelector("button")?.focus();
  });
  document.addEventListener("keydown", watchBurst, true);
}

start();
