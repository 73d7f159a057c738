// One item: the details form (by role, kit components included), its barcodes and its variants.
import {
  ApiError, api, el, formatMoney, formatTime, moneyInputValue, parseMoney, setText,
} from "/static/common.js";

export const $ = (id) => document.getElementById(id);
export const ctx = { me: null, currency: "", taxCategories: [] }; // filled once by items.js
export const enc = encodeURIComponent;
export const canEdit = () => ["manager", "owner"].includes(ctx.me?.role);

export const LABELS = {
  name: "Name", unit: "Sold by", price_minor: "Price", cost_minor: "Cost", tax_category: "Tax",
  department: "Department", category: "Category", supplier: "Supplier", supplier_sku: "Supplier's SKU",
  case_pack: "Units in a case", net_content: "Net content", net_unit: "Net unit", active: "Active",
  variant_axes: "Variant axes", variant_values: "Variant values", kit_policy: "Kit", components: "Components",
  tiers: "Tier prices", breaks: "Quantity breaks", modifier_groups: "Modifier groups", barcode: "Barcode",
  created: "Created", pack_qty: "Units",
};
const TEXT = ["name", "department", "category", "supplier", "supplier_sku", "unit", "tax_category", "net_unit", "kit_policy"];
const WHOLE = ["case_pack", "net_content"];
const MONEY = ["price_minor", "cost_minor"];

/** A field's value in words: money formatted, lists joined. */
export function describe(field, value) {
  const money = (m) => formatMoney(m, ctx.currency);
  if (field === "kit_policy") return value || "not a kit";
  if (value == null || value === "") return "–";
  if (MONEY.includes(field)) return money(value);
  if (field === "active") return value ? "yes" : "no";
  if (field === "barcode") return value.pack_qty > 1 ? `${value.code} (${value.packaging} of ${value.pack_qty})` : value.code;
  if (field === "tiers") return Object.entries(value).map(([t, p]) => `${t} ${money(p)}`).join(", ") || "none";
  if (field === "breaks") return value.map((b) => `${b.tier} from ${b.qty}: ${money(b.price_minor)}`).join(", ") || "none";
  if (field === "components") return value.map((c) => `${c.qty} × ${c.sku}`).join(", ") || "none";
  if (field === "created") return `${value.name}, ${money(value.price_minor)}`;
  if (Array.isArray(value)) return value.join(", ") || "none";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return String(value);
}

export const who = (actor) => String(actor || "?").replace(/^user:/, "");

// -- errors next to their field ----------------------------------------------------------------

export function clearErrors(form) {
  for (const box of form.querySelectorAll("[data-error-for]")) box.hidden = true;
  for (const input of form.querySelectorAll("[aria-invalid=true]")) input.setAttribute("aria-invalid", "false");
}

/** The API's error next to the field it names (error.field, "tiers.member" -> tiers), else at the form's foot. */
export function showError(form, err) {
  const name = String(err.field || "").split(".")[0];
  const box = (name && form.querySelector(`[data-error-for~="${CSS.escape(name)}"]`))
    || form.querySelector('[data-error-for~="form"]');
  box.textContent = err.message;
  box.hidden = false;
  const input = name && form.elements.namedItem(name);
  if (input instanceof HTMLElement) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

export function money(text, field) {
  const minor = parseMoney(text);
  if (minor == null) throw new ApiError(`${LABELS[field] || "The amount"} must be an amount such as 2.49, not "${text}".`, { field });
  return minor;
}

function whole(text, field) {
  if (!/^\d{1,9}$/.test(text.trim())) throw new ApiError(`${LABELS[field] || "The number"} must be a whole number, not "${text}".`, { field });
  return Number(text);
}

export const splitList = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

export function fillTaxes(select) {
  select.replaceChildren(...ctx.taxCategories.map((t) => el("option", { value: t.id }, `${t.name} (${t.rate_bp / 100}%)`)));
}

// -- editable rows: kit components and quantity breaks ----------------------------------------

function rowsEditor(list, field, columns) {
  const add = (row = {}) => list.append(el("li", { class: "edit-row", "data-testid": `${field}-row` },
    ...columns.map((c) => (c.options
      ? el("select", { class: "input", "aria-label": c.label, dataset: { key: c.key } },
        ...c.options.map((o) => el("option", { value: o, selected: row[c.key] === o }, o)))
      : el("input", { class: `input ${c.key === "sku" ? "mono" : ""}`, "aria-label": c.label, placeholder: c.label,
        dataset: { key: c.key }, inputmode: c.key === "sku" ? "text" : c.money ? "decimal" : "numeric",
        value: row[c.key] == null ? "" : c.money ? moneyInputValue(row[c.key]) : row[c.key] }))),
    canEdit() && el("button", { type: "button", class: "btn btn-quiet", "aria-label": "Remove this row",
      onclick: (e) => e.currentTarget.parentElement.remove() }, "Remove")));
  const read = (li) => Object.fromEntries(columns.map((c) => {
    const raw = li.querySelector(`[data-key=${c.key}]`).value.trim();
    if (c.options || c.key === "sku") return [c.key, raw];
    if (c.money) return [c.key, money(raw, field)];
    if (!/^\d{1,7}$/.test(raw)) throw new ApiError(`Each row needs a whole ${c.label.toLowerCase()}, not "${raw}".`, { field });
    return [c.key, Number(raw)];
  }));
  return {
    add,
    set(rows) { list.replaceChildren(); rows.forEach(add); },
    get: () => [...list.children].filter((li) => [...li.querySelectorAll("input")].some((i) => i.value.trim())).map(read),
  };
}

const breaks = rowsEditor($("breaks"), "breaks", [
  { key: "tier", label: "Tier", options: ["retail", "member", "wholesale"] }, { key: "qty", label: "From quantity" },
  { key: "price_minor", label: "Price each", money: true }]);
const components = rowsEditor($("components"), "components", [{ key: "sku", label: "SKU" }, { key: "qty", label: "Quantity" }]);

// -- the item ---------------------------------------------------------------------------------

let item = null; // as the hub last sent it

/** Tell the page (history, request count) that the item changed or was opened. */
const changed = () => document.dispatchEvent(new CustomEvent("item-changed", { detail: item }));

function renderHead() {
  document.title = `${item.name} · Items · Backroom`;
  setText($("item-title"), item.name);
  setText($("item-sku"), item.sku);
  const kit = item.kit_policy === "components" ? " kits from components" : "";
  setText($("item-available"), `Available: ${item.available}${kit}`);
  const stockLink = $("item-stock-link"); // removed for people who may not see stock pages
  if (stockLink) stockLink.href = `/stock/${encodeURIComponent(item.sku)}`;
  $("item-badges").replaceChildren(
    item.active ? "" : el("span", { class: "badge badge-bad" }, "Switched off"),
    item.kit_policy ? el("span", { class: "badge badge-off" }, "Kit") : "",
    item.variant_axes.length ? el("span", { class: "badge badge-off" }, `${item.variants.length} variants`) : "");
  renderBarcodes();
  renderLabels();
  renderVariants();
}

function render(fresh) {
  item = fresh;
  renderHead();
  const f = $("item-form");
  for (const k of TEXT) f.elements[k].value = item[k] ?? "";
  for (const k of WHOLE) f.elements[k].value = item[k];
  for (const k of MONEY) f.elements[k].value = item[k] === undefined ? "" : moneyInputValue(item[k]);  // cost is not shown to cashiers
  for (const t of ["member", "wholesale"]) f.elements[`tier_${t}`].value = t in item.tiers ? moneyInputValue(item.tiers[t]) : "";
  f.elements.active.checked = item.active;
  f.elements.variant_axes.value = item.variant_axes.join(", ");
  $("axes-field").hidden = Boolean(item.parent_sku);
  setText($("price-per"), { g: "per kg", ml: "per l" }[item.unit] || "");
  breaks.set(item.breaks);
  components.set(item.components);
  $("components-field").hidden = !item.kit_policy;
}

let openSeq = 0; // a slow answer for the item before must not fill the form of this one

/** Show /items/<sku>: the item; the page then adds its history and waiting requests. */
export async function openItem(sku) {
  const seq = ++openSeq;
  for (const form of document.querySelectorAll("#view-item form")) clearErrors(form);
  for (const id of ["save-result", "item-missing", "item-pending"]) $(id).hidden = true;
  setText($("barcode-result"), "");
  setText($("item-title"), "…");
  $("item-form").reset();
  try {
    const fresh = await api(`/api/v1/items/${enc(sku)}`);
    if (seq !== openSeq) return;
    render(fresh);
  } catch (err) {
    if (seq !== openSeq) return;
    setText($("item-title"), sku);
    setText($("item-missing"), err.message);
    $("item-missing").hidden = false;
    return;
  }
  changed();
}

/** Fetch the item again and redraw only the given parts, keeping unsaved edits in the form. */
async function refresh(...keys) {
  const fresh = await api(`/api/v1/items/${enc(item.sku)}`);
  for (const k of keys) item[k] = fresh[k];
  renderHead();
  changed();
}

function readForm(f) {
  const v = {};
  for (const k of TEXT) v[k] = f.elements[k].value.trim();
  for (const k of WHOLE) v[k] = whole(f.elements[k].value, k);
  for (const k of MONEY) v[k] = money(f.elements[k].value, k);
  v.active = f.elements.active.checked;
  if (!item.parent_sku) v.variant_axes = splitList(f.elements.variant_axes.value);
  v.tiers = {};
  for (const t of ["member", "wholesale"]) {
    const raw = f.elements[`tier_${t}`].value.trim();
    if (raw) v.tiers[t] = money(raw, "tiers");
  }
  v.breaks = breaks.get();
  v.components = v.kit_policy ? components.get() : [];
  return Object.fromEntries(Object.entries(v).filter(([k, val]) => JSON.stringify(val) !== JSON.stringify(item[k])));
}

function savedText(res) {
  const parts = [];
  const applied = Object.entries(res.applied || {});
  if (applied.length) parts.push(`Saved: ${applied.map(([k, c]) => `${LABELS[k] || k} ${describe(k, c.old)} → ${describe(k, c.new)}`).join("; ")}.`);
  const r = res.request;
  if (r) {
    const fields = Object.keys(r.changes).map((k) => LABELS[k] || k).join(", ");
    parts.push(r.status === "pending"
      ? `Change request #${r.id} created (pending): ${fields} waits for the owner's approval${r.effective_at ? `, then applies at ${formatTime(r.effective_at)}` : ""}.`
      : `Change request #${r.id} (${r.status}): ${fields} will change at ${formatTime(r.effective_at)}.`);
  }
  return parts.join(" ") || "Nothing changed.";
}

async function save(event) {
  event.preventDefault();
  const f = $("item-form");
  clearErrors(f);
  $("save-result").hidden = true;
  let body;
  try {
    body = readForm(f);
  } catch (err) {
    showError(f, err);
    return;
  }
  if (!Object.keys(body).length) {
    showError(f, new ApiError("Nothing to save: no field differs from the item as it is."));
    return;
  }
  const when = f.elements.effective_at.value; // local time from the picker, sent as UTC
  if (when) body.effective_at = new Date(when).toISOString().replace(/\.\d{3}Z$/, "Z");
  if (f.elements.reason.value.trim()) body.reason = f.elements.reason.value.trim();
  const button = $("save-item");
  button.disabled = true;
  try {
    const res = await api(`/api/v1/items/${enc(item.sku)}`, { method: "PATCH", body });
    render(res.item);
    f.elements.effective_at.value = "";
    f.elements.reason.value = "";
    const box = $("save-result");
    box.textContent = savedText(res);
    box.dataset.requestId = res.request?.id ?? "";
    box.dataset.requestStatus = res.request?.status ?? "";
    box.className = `notice ${res.request ? "notice-warn" : "notice-ok"}`;
    box.hidden = false;
    changed();
  } catch (err) {
    showError(f, err);
  } finally {
    button.disabled = false;
  }
}

// -- barcodes ---------------------------------------------------------------------------------

function renderBarcodes() {
  const remove = (b) => el("button", {
    type: "button", class: "btn btn-danger", "data-testid": "barcode-remove", "aria-label": `Remove barcode ${b.code}`,
    onclick: async (e) => {
      const button = e.currentTarget;
      if (!button.dataset.armed) { // a second tap removes: a stray finger should not
        button.dataset.armed = "1";
        setText(button, "Tap again to remove");
        return;
      }
      await barcodeCall(() => api(`/api/v1/items/${enc(item.sku)}/barcodes/${enc(b.code)}`, { method: "DELETE" }), `Removed ${b.code}.`);
    },
  }, "Remove");
  $("barcode-list").replaceChildren(...(item.barcodes.length ? item.barcodes.map((b) => el("li", {
    class: "row", "data-testid": "barcode-row", dataset: { code: b.code, internal: String(b.internal) },
  }, el("span", { class: "mono grow" }, b.display || b.code),
  el("span", {}, b.packaging === "unit" ? "unit" : `${b.packaging} of ${b.pack_qty}`),
  b.internal ? el("span", { class: "badge badge-off" }, "In-store") : "",
  canEdit() ? remove(b) : "")) : [el("li", { class: "muted" }, "No barcodes: sell it by SKU, or generate one.")]));
}

async function barcodeCall(call, done) {
  const form = $("barcode-form");
  clearErrors(form);
  try {
    const made = await call();
    setText($("barcode-result"), typeof done === "function" ? done(made) : done);
    await refresh("barcodes");
    return true;
  } catch (err) {
    showError(form, err);
    return false;
  }
}

async function addBarcode(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = { code: form.elements.code.value.trim(), packaging: form.elements.packaging.value };
  try {
    body.pack_qty = whole(form.elements.pack_qty.value, "pack_qty");
  } catch (err) {
    return showError(form, err);
  }
  if (await barcodeCall(() => api(`/api/v1/items/${enc(item.sku)}/barcodes`, { method: "POST", body }), `Added ${body.code}.`)) {
    form.reset();
  }
}

// -- labels: download, or print on a label printer the hub knows ------------------------------

const LABEL_JOB_POLLS = 30; // a second apart: long enough for a printer to wake, short enough to stop
let labelPrinters = null; // fetched once per page; [] when none (or the role may not print)

async function renderLabels() {
  let box = $("label-actions");
  if (!box) {
    box = el("div", { id: "label-actions", class: "inline-form edit-only", "data-testid": "label-actions" });
    $("barcode-list").after(box);
  }
  if (!canEdit()) return box.replaceChildren();
  if (labelPrinters === null) labelPrinters = (await api("/api/v1/labels/printers").catch(() => ({ printers: [] }))).printers;
  const result = el("span", { class: "muted", role: "status", "data-testid": "label-result" });
  const kind = el("select", { class: "input", "aria-label": "Label kind", "data-testid": "label-kind" },
    el("option", { value: "shelf" }, "Shelf label"), el("option", { value: "sticker" }, "Item sticker"));
  const printer = el("select", { class: "input", "aria-label": "Label printer", "data-testid": "label-printer" },
    ...labelPrinters.map((p) => el("option", { value: p.id }, `${p.display_name || p.name} (${p.size} mm)`)));
  const download = el("a", { class: "btn btn-quiet", "data-testid": "label-download", download: `${item.sku}.zpl`,
    href: `/api/v1/items/${enc(item.sku)}/label?format=zpl` }, "Download label (ZPL)");
  kind.addEventListener("change", () => { download.href = `/api/v1/items/${enc(item.sku)}/label?format=zpl&kind=${kind.value}`; });
  const print = el("button", { type: "button", class: "btn", "data-testid": "label-print" }, "Print label");
  print.addEventListener("click", () => printLabel(kind.value, printer.value, result));
  box.replaceChildren(kind, download, ...(labelPrinters.length ? [printer, print] : []), result);
}

async function printLabel(kind, deviceId, result) {
  try {
    const job = await api(`/api/v1/items/${enc(item.sku)}/label/print`, { method: "POST", body: { kind, device_id: deviceId } });
    setText(result, "Sent to the label printer…");
    for (let i = 0; i < LABEL_JOB_POLLS; i++) {
      await new Promise((done) => setTimeout(done, 1000));
      const now = await api(`/api/v1/print-jobs/${enc(job.job_id)}`);
      if (now.status === "printed") return setText(result, "Printed.");
      if (["failed", "cancelled"].includes(now.status)) return setText(result, `Not printed: ${now.error || now.status}.`);
      if (now.error) setText(result, `Waiting: ${now.error}`);
    }
  } catch (err) {
    setText(result, err.message);
  }
}

// -- variants ---------------------------------------------------------------------------------

function renderVariants() {
  const parent = item.variant_axes.length > 0;
  $("variants-card").hidden = !parent && !item.parent_sku;
  const link = $("parent-link");
  link.hidden = !item.parent_sku;
  if (item.parent_sku) {
    link.replaceChildren(`${describe("variant_values", item.variant_values)}: a variant of `,
      el("a", { href: `/items/${enc(item.parent_sku)}`, "data-nav": "" }, item.parent_sku));
  }
  $("variant-list").replaceChildren(...(parent ? item.variants.map((v) => el("li", { class: "row", "data-testid": "variant-row", dataset: { sku: v.sku } },
    el("a", { class: "mono", href: `/items/${enc(v.sku)}`, "data-nav": "" }, v.sku),
    el("span", { class: "grow" }, describe("variant_values", v.variant_values)),
    el("span", { class: "num" }, describe("price_minor", v.price_minor)),
    v.active ? "" : el("span", { class: "badge badge-bad" }, "Off"))) : []));
  const form = $("variant-form");
  if (!form) return; // removed for a cashier
  form.hidden = !parent;
  $("variant-values").replaceChildren(...item.variant_axes.map((axis, i) => el("div", { class: "field narrow" },
    el("label", { for: `v-axis-${i}` }, axis),
    el("input", { id: `v-axis-${i}`, class: "input", dataset: { axis }, "data-testid": `variant-value-${axis}` }))));
}

async function addVariant(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const values = Object.fromEntries([...form.querySelectorAll("[data-axis]")].map((i) => [i.dataset.axis, i.value.trim()]));
  const body = { sku: form.elements.sku.value.trim(), parent_sku: item.sku, variant_values: values };
  try {
    if (form.elements.price_minor.value.trim()) body.price_minor = money(form.elements.price_minor.value, "price_minor");
    await api("/api/v1/items", { method: "POST", body });
    form.reset();
    await refresh("variants", "available");
  } catch (err) {
    showError(form, err);
  }
}

/** Hook the item view's forms up once; fields stay disabled for a cashier. */
export function wireItem() {
  $("item-fields").disabled = !canEdit();
  $("item-form").addEventListener("submit", save);
  $("add-break")?.addEventListener("click", () => breaks.add());
  $("add-component")?.addEventListener("click", () => components.add());
  $("f-kit").addEventListener("change", (e) => {
    $("components-field").hidden = !e.target.value;
    if (e.target.value && !$("components").children.length) components.add();
  });
  for (const node of document.querySelectorAll("[data-approval]")) node.hidden = ctx.me.role !== "manager";
  $("barcode-form")?.addEventListener("submit", addBarcode);
  $("generate-barcode")?.addEventListener("click", () => barcodeCall(
    () => api(`/api/v1/items/${enc(item.sku)}/barcodes`, { method: "POST", body: { generate: true } }),
    (made) => `Made the in-store barcode ${made.code}: print a label for it.`));
  $("variant-form")?.addEventListener("submit", addVariant);
}
