// Receiving on /stock?view=receive: a delivery against an open purchase order (short, complete or
// over), an unplanned delivery line by line, and new purchase orders.
import { ApiError, api, el, newId, parseMoney, setText } from "/static/common.js";
import { $, clearErrors, enc, money, pickerOf, placeName, shortTime, showError, showResult, stockLink, submitting, who, whole } from "./stock.js";

let order = null; // the purchase order being received, as the hub last sent it
const unplanned = []; // [{sku, name, qty}]
const planned = []; // lines of a new purchase order: [{sku, name, qty, cost_minor?}]
const poName = (po) => `${po.supplier || "No supplier"} · PO ${po.id.slice(0, 8)}`;

// -- against a purchase order ---------------------------------------------------------------------

async function loadOrders() {
  const note = $("po-note");
  try {
    const { purchase_orders: open } = await api("/api/v1/purchase-orders?status=open");
    $("po-list").replaceChildren(...open.map((po) => el("li", { class: "row", "data-testid": "po-row", dataset: { poId: po.id } },
      el("span", { class: "grow" }, poName(po), el("span", { class: "sub" },
        `${po.lines} lines · ${po.qty_received} of ${po.qty_ordered} units in · ${shortTime(po.created_at)} by ${who(po.created_by)}`)),
      el("button", { type: "button", class: "btn", "data-testid": "po-open", onclick: () => openOrder(po.id) }, "Receive"))));
    setText(note, open.length ? "" : "No purchase order is open.");
  } catch (err) {
    setText(note, err.message);
  }
}

function orderLine(line, i) {
  const now = el("input", { class: "input num", inputmode: "numeric", placeholder: String(line.open_qty), "aria-label": `Received now of ${line.name}`,
    "data-testid": "po-line-qty", dataset: { lineIndex: i } });
  return el("tr", { "data-testid": "po-line", dataset: { sku: line.sku, lineNo: line.line_no, remaining: line.open_qty, received: line.qty_received } },
    el("td", {}, el("a", { href: `/stock/${enc(line.sku)}`, "data-nav": "" }, line.name), el("span", { class: "sub mono" }, line.sku)),
    el("td", { class: "num" }, String(line.qty_ordered)),
    el("td", { class: "num", "data-testid": "po-line-received" }, String(line.qty_received)),
    el("td", { class: "num", "data-testid": "po-line-remaining" }, line.over_qty ? `${line.open_qty} (+${line.over_qty} over)` : String(line.open_qty)),
    el("td", { class: "num" }, now));
}

async function openOrder(poId) {
  const form = $("po-receive-form");
  clearErrors(form);
  try {
    order = await api(`/api/v1/purchase-orders/${enc(poId)}`);
  } catch (err) {
    return setText($("po-note"), err.message);
  }
  renderOrder();
  form.hidden = false;
  form.scrollIntoView({ block: "start" });
}

function renderOrder() {
  setText($("po-title"), poName(order));
  setText($("po-meta"), `${order.status}${order.note ? ` · ${order.note}` : ""}`);
  $("po-lines").replaceChildren(...order.lines.map(orderLine));
}

async function receiveOrder(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await submitting(form, async () => {
    const lines = [];
    for (const box of form.querySelectorAll("[data-testid=po-line-qty]")) {
      if (!box.value.trim()) continue;
      const line = order.lines[Number(box.dataset.lineIndex)];
      lines.push({ sku: line.sku, qty: whole(box.value, `lines[${box.dataset.lineIndex}]`, { label: `Received now of ${line.name}` }),
        po_line_no: line.line_no });
    }
    if (!lines.length) throw new ApiError("Type how many came in on at least one line.", { field: "lines" });
    // one id per delivery until the hub confirms it: pressing again after a lost answer receives it once
    form.dataset.deliveryId ||= newId();
    const res = await api("/api/v1/receipts", { method: "POST", body: {
      id: form.dataset.deliveryId, po_id: order.id, location: $("r-location").value, lines } });
    delete form.dataset.deliveryId;
    const units = lines.reduce((sum, l) => sum + l.qty, 0);
    const open = res.po_lines.filter((l) => l.remaining > 0).length;
    const over = res.po_lines.filter((l) => l.over > 0).map((l) => `${l.sku} +${l.over}`);
    order = await api(`/api/v1/purchase-orders/${enc(order.id)}`);
    renderOrder();
    showResult(form, `Received ${units} units into ${placeName(res.location)}. `,
      res.po_status === "received" ? "The order is complete." : `${open} line${open === 1 ? "" : "s"} still to come.`,
      over.length ? ` Over-delivered: ${over.join(", ")}.` : "", ...res.warnings.map((w) => ` ${w}.`));
    loadOrders();
  });
}

// -- lines typed in: an unplanned delivery, or a new purchase order ------------------------------

function lineList(list, lines, testid) {
  list.replaceChildren(...lines.map((l, i) => el("li", { class: "row", "data-testid": testid, dataset: { sku: l.sku, qty: l.qty } },
    el("span", { class: "grow" }, l.name, " ", el("span", { class: "mono muted" }, l.sku)),
    el("strong", { class: "num" }, `× ${l.qty}`), l.cost_minor != null ? el("span", { class: "num" }, `${money(l.cost_minor)} each`) : "",
    el("button", { type: "button", class: "btn btn-quiet", "aria-label": `Remove ${l.name}`,
      onclick: () => { lines.splice(i, 1); lineList(list, lines, testid); } }, "Remove"))));
}

async function addLine(form, lines, list, testid, withCost) {
  clearErrors(form);
  const f = form.elements;
  try {
    const picker = pickerOf(f.sku);
    const sku = await picker.sku();
    const line = { sku, name: picker.item.name, qty: whole(f.qty.value, "qty") };
    if (withCost && f.cost_minor.value.trim()) {
      line.cost_minor = parseMoney(f.cost_minor.value);
      if (line.cost_minor == null) throw new ApiError(`Cost must be an amount such as 1.20, not "${f.cost_minor.value}".`, { field: "cost_minor" });
    }
    const same = lines.find((l) => l.sku === sku);
    if (same) same.qty += line.qty; // the same item twice is one line: the hub wants it so
    else lines.push(line);
    lineList(list, lines, testid);
    picker.clear();
    f.qty.value = "1";
    if (withCost) f.cost_minor.value = "";
    f.sku.focus();
  } catch (err) {
    showError(form, err);
  }
}

async function receiveUnplanned(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await submitting(form, async (f) => {
    if (!unplanned.length) throw new ApiError("Add the delivery's items first: scan or search, then Add line.", { field: "lines" });
    form.dataset.deliveryId ||= newId();
    const res = await api("/api/v1/receipts", { method: "POST", body: { id: form.dataset.deliveryId,
      location: $("r-location").value, supplier: f.supplier.value.trim(), lines: unplanned.map(({ sku, qty }) => ({ sku, qty })) } });
    delete form.dataset.deliveryId;
    const units = res.lines.reduce((sum, l) => sum + l.qty, 0);
    showResult(form, `Received ${units} units of ${res.lines.length} items into ${placeName(res.location)}. `,
      ...res.lines.slice(0, 3).flatMap((l) => [stockLink(l.sku, l.sku), " "]));
    unplanned.length = 0;
    lineList($("u-lines"), unplanned, "unplanned-line");
    f.supplier.value = "";
  });
}

async function createOrder(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await submitting(form, async (f) => {
    if (!planned.length) throw new ApiError("Add the items to order first: scan or search, then Add line.", { field: "lines" });
    const po = await api("/api/v1/purchase-orders", { method: "POST", body: {
      supplier: f.supplier.value.trim(), note: f.note.value.trim(),
      lines: planned.map(({ sku, qty, cost_minor: cost }) => (cost == null ? { sku, qty } : { sku, qty, cost_minor: cost })) } });
    showResult(form, `Created ${poName(po)} with ${po.lines.length} lines. It is in the list above for receiving.`);
    form.dataset.poId = po.id;
    planned.length = 0;
    lineList($("p-lines"), planned, "po-new-line");
    f.supplier.value = "";
    f.note.value = "";
    loadOrders();
  });
}

export function openReceive() {
  loadOrders();
}

export function wireReceive() {
  $("po-reload").addEventListener("click", loadOrders);
  $("po-receive-form").addEventListener("submit", receiveOrder);
  $("unplanned-form").addEventListener("submit", receiveUnplanned);
  $("po-new-form").addEventListener("submit", createOrder);
  $("u-add").addEventListener("click", () => addLine($("unplanned-form"), unplanned, $("u-lines"), "unplanned-line", false));
  $("p-add").addEventListener("click", () => addLine($("po-new-form"), planned, $("p-lines"), "po-new-line", true));
  for (const [item, qty] of [["u-item", "u-qty"], ["p-item", "p-qty"]]) { // scan, then the quantity, then Enter
    $(item).addEventListener("item-picked", () => { $(qty).focus(); $(qty).select(); });
  }
  // a scanner ends with Enter: in the quantity box that adds the line, as the button does
  $("u-qty").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); $("u-add").click(); } });
  $("p-qty").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); $("p-add").click(); } });
}
