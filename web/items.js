// The item pages for owners and managers: find items, open one (items-edit.js), add one, and
// decide change requests. /items and /items/<sku> both serve this page; the path picks the view.
import { ApiError, api, el, formatMoney, formatTime, getSession, inPageLinks, setText, signOut } from "/static/common.js";
import {
  $, LABELS, canEdit, clearErrors, ctx, describe, enc, fillTaxes, money, openItem, showError, splitList, who, wireItem,
} from "./items-edit.js";

const DEBOUNCE_MS = 250; // a person pausing between letters; a scanner types far faster and ends with Enter
const PAGE_SIZE = 50;
const VIEWS = ["search", "item", "new", "requests"];

// -- views: one page, the address says which --------------------------------------------------

function route() {
  const sku = location.pathname.split("/")[2];
  let view = sku ? "item" : new URLSearchParams(location.search).get("view") || "search";
  if (!VIEWS.includes(view) || (!canEdit() && ["new", "requests"].includes(view))) view = "search";
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll(".items-nav [data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${{ search: "Items", item: "Item", new: "New item", requests: "Change requests" }[view]} · Backroom`;
  if (view === "item") openItem(decodeURIComponent(sku));
  if (view === "requests") loadRequests();
  if (view === "search") {
    if ($("search-state").dataset.state === "idle") search();
    $("search-input").select();
  }
}

const go = inPageLinks(() => route());

// -- find ---------------------------------------------------------------------------------------

let timer = 0;
let searchSeq = 0; // answers to older searches are dropped: typing is faster than the hub
let cursor = null;

function resultRow(item) {
  const href = `/items/${enc(item.sku)}`;
  const per = { g: " /kg", ml: " /l" }[item.unit] || "";
  return el("tr", {
    "data-testid": "item-row", dataset: { sku: item.sku }, class: item.active ? "" : "inactive",
    onclick: (e) => { if (!e.target.closest("a")) go(href); },
  }, el("td", { class: "mono" }, el("a", { href, "data-nav": "" }, item.sku)),
  el("td", {}, item.name, item.parent_sku ? el("span", { class: "sub" }, `variant of ${item.parent_sku}`) : "",
    item.barcode ? el("span", { class: "sub mono" }, item.barcode_display || item.barcode) : ""),
  el("td", { class: "num" }, formatMoney(item.price_minor, ctx.currency), per),
  el("td", { class: "dept" }, item.department || "–"),
  el("td", {}, el("span", { class: `badge ${item.active ? "badge-ok" : "badge-off"}` }, item.active ? "Yes" : "Off")));
}

async function search({ more = false, openSingle = false } = {}) {
  clearTimeout(timer);
  const q = $("search-input").value.trim();
  const seq = ++searchSeq;
  const params = new URLSearchParams({ q, limit: String(PAGE_SIZE) });
  if ($("include-inactive").checked) params.set("include_inactive", "1");
  if (more && cursor) params.set("cursor", cursor);
  const state = $("search-state");
  state.dataset.state = "searching";
  try {
    const res = await api(`/api/v1/items?${params}`);
    if (seq !== searchSeq) return;
    cursor = res.next_cursor;
    const body = $("results");
    if (!more) body.replaceChildren();
    body.append(...res.items.map(resultRow));
    $("load-more").hidden = !cursor;
    const n = body.children.length;
    setText(state, n ? `${n}${cursor ? "+" : ""} item${n === 1 ? "" : "s"}${q ? ` for “${q}”` : ""}` : `No item matches “${q}”.`);
    state.dataset.state = "done";
    state.dataset.query = q;
    if (openSingle && !more && res.items.length === 1) go(`/items/${enc(res.items[0].sku)}`);
  } catch (err) {
    if (seq !== searchSeq) return;
    setText(state, err.message);
    state.dataset.state = "failed";
  }
}

// -- new item ---------------------------------------------------------------------------------

async function createItem(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const f = form.elements;
  clearErrors(form);
  const body = {
    sku: f.sku.value.trim(), name: f.name.value.trim(), unit: f.unit.value, tax_category: f.tax_category.value,
    department: f.department.value.trim(), barcodes: f.barcodes.value.split(/[\s,]+/).filter(Boolean),
    variant_axes: splitList(f.variant_axes.value),
  };
  const button = form.querySelector("[type=submit]");
  button.disabled = true;
  try {
    if (!body.sku) throw new ApiError("Give the new item a SKU, e.g. TEE-01.", { field: "sku" });
    body.price_minor = money(f.price_minor.value, "price_minor");
    const item = await api("/api/v1/items", { method: "POST", body });
    form.reset();
    go(`/items/${enc(item.sku)}`);
  } catch (err) {
    showError(form, err);
  } finally {
    button.disabled = false;
  }
}

// -- change requests ------------------------------------------------------------------------

async function countRequests() {
  if (!canEdit()) return;
  try {
    const { requests } = await api("/api/v1/change-requests?status=pending");
    const count = $("requests-count");
    setText(count, String(requests.length));
    count.hidden = !requests.length;
  } catch {
    // only the badge is missing; the list itself says what went wrong when opened
  }
}

function requestRow(r) {
  const owner = ctx.me.role === "owner";
  const mine = r.requested_by === `user:${ctx.me.user}`;
  const message = el("p", { class: "field-error", role: "alert", "data-testid": "request-message", hidden: true });
  const note = el("input", { class: "input", placeholder: "Note for the requester (optional)", "aria-label": `Note on request ${r.id}`,
    "data-testid": "request-note", maxlength: "500" });
  const decide = async (approve, button) => {
    button.disabled = true;
    try {
      const done = await api(`/api/v1/change-requests/${r.id}/${approve ? "approve" : "reject"}`,
        { method: "POST", body: { note: note.value.trim() } });
      const box = $("requests-result");
      box.textContent = `Request #${r.id} for ${r.name} is now ${done.status}.`;
      box.hidden = false;
      await loadRequests();
    } catch (err) {
      setText(message, err.message);
      message.hidden = false;
      button.disabled = false;
    }
  };
  const buttons = [];
  if (owner && r.status === "pending" && !mine) {
    buttons.push(el("button", { type: "button", class: "btn btn-primary", "data-testid": "request-approve",
      onclick: (e) => decide(true, e.currentTarget) }, "Approve"));
  }
  if (owner || mine) {
    buttons.push(el("button", { type: "button", class: "btn btn-danger", "data-testid": "request-reject",
      onclick: (e) => decide(false, e.currentTarget) }, mine ? "Cancel my request" : "Reject"));
  }
  return el("li", { class: "card request", "data-testid": "request-row", dataset: { requestId: r.id, sku: r.sku, status: r.status } },
    el("header", {}, el("a", { href: `/items/${enc(r.sku)}`, "data-nav": "" }, r.name), el("span", { class: "mono muted" }, r.sku),
      el("span", { class: "spacer" }), el("span", { class: `badge ${r.status === "pending" ? "badge-warn" : "badge-off"}` }, `#${r.id} ${r.status}`)),
    el("ul", { class: "changes" }, Object.entries(r.changes).map(([k, c]) => el("li", {}, changeLine(k, c)))),
    el("p", { class: "muted" }, [`Asked by ${who(r.requested_by)}, ${formatTime(r.requested_at)}`,
      r.effective_at ? `applies at ${formatTime(r.effective_at)}` : "applies when approved"].join(" · ")),
    r.reason ? el("p", {}, `Why: ${r.reason}`) : "",
    buttons.length ? el("div", { class: "request-actions" }, owner ? note : "", ...buttons) : "",
    message);
}

async function loadRequests() {
  const list = $("requests-list");
  const note = $("requests-note");
  try {
    const [pending, scheduled] = await Promise.all(["pending", "scheduled"].map((s) => api(`/api/v1/change-requests?status=${s}`)));
    const all = [...pending.requests, ...scheduled.requests].sort((a, b) => a.id - b.id);
    list.replaceChildren(...all.map(requestRow));
    setText(note, all.length ? (ctx.me.role === "owner"
      ? "Approve to apply (or schedule) the change; reject with a note to say why."
      : "The owner approves these. You may cancel your own.") : "No change request is waiting.");
    list.dataset.loaded = "true";
  } catch (err) {
    setText(note, err.message);
  }
  countRequests();
}

// -- an item's history and its waiting requests ------------------------------------------------

let historySeq = 0;
const changeLine = (k, c) => `${LABELS[k] || k} ${describe(k, c.old)} → ${describe(k, c.new)}`;

function changeText(c) {
  if (c.field === "created") return describe("created", c.new);
  if (c.field === "barcode") return c.old ? `removed ${describe("barcode", c.old)}` : `added ${describe("barcode", c.new)}`;
  return `${describe(c.field, c.old)} → ${describe(c.field, c.new)}`;
}

async function loadHistory(item) {
  const [list, note, pending] = [$("history-list"), $("history-note"), $("item-pending")];
  const seq = ++historySeq;
  list.replaceChildren();
  note.hidden = false;
  if (!canEdit()) {
    setText(note, "The history is for managers and owners.");
    pending.hidden = !item.pending_requests.length;
    setText(pending, `${item.pending_requests.length} change request(s) wait for the owner.`);
    return;
  }
  let h;
  try {
    h = await api(`/api/v1/items/${enc(item.sku)}/history`);
  } catch (err) {
    if (seq === historySeq) setText(note, err.message);
    return;
  }
  if (seq !== historySeq) return; // another item was opened meanwhile
  list.replaceChildren(...h.changes.map((c) => el("li", { class: "history-row", "data-testid": "history-row", dataset: { field: c.field } },
    el("div", {}, el("strong", {}, LABELS[c.field] || c.field), " ", changeText(c)),
    el("div", { class: "muted" }, [formatTime(c.at), who(c.actor), c.reason && `“${c.reason}”`,
      c.request_id && `request #${c.request_id}`].filter(Boolean).join(" · ")))));
  note.hidden = h.changes.length > 0;
  setText(note, "No changes yet.");
  const waiting = h.requests.filter((r) => ["pending", "scheduled"].includes(r.status));
  pending.hidden = !waiting.length;
  pending.replaceChildren(...waiting.map((r) => el("div", {}, `Request #${r.id} (${r.status}, by ${who(r.requested_by)}): `,
    Object.entries(r.changes).map(([k, c]) => changeLine(k, c)).join("; "), r.effective_at ? `, at ${formatTime(r.effective_at)}` : "")),
  el("a", { href: "/items?view=requests", "data-nav": "" }, "See the change requests"));
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  $("sign-out").addEventListener("click", () => signOut());
  try {
    ctx.me = await getSession();
    ctx.taxCategories = (await api("/api/v1/tax-categories")).tax_categories;
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
  if (!canEdit()) for (const node of document.querySelectorAll(".edit-only")) node.remove();
  for (const select of document.querySelectorAll(".tax-select")) fillTaxes(select);
  wireItem();
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search({ openSingle: true }); });
  $("search-input").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, DEBOUNCE_MS); });
  $("include-inactive").addEventListener("change", () => search());
  $("load-more").addEventListener("click", () => search({ more: true }));
  $("new-form").addEventListener("submit", createItem);
  $("requests-reload").addEventListener("click", loadRequests);
  document.addEventListener("item-changed", (e) => {
    loadHistory(e.detail);
    countRequests();
  });
  addEventListener("popstate", route);
  route();
  countRequests();
}

start();
