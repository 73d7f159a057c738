// The register's own copy of the catalog, for selling while the hub is out of reach: a snapshot
// streamed into IndexedDB in the background, kept current by deltas, and lookups and prices from it
// in the shapes the hub's /lookup and /sales/quote answer with. register-catalog.js decides when.
// IndexedDB stores: items (by sku, with a multi-entry index on their codes, so an item put replaces
// its codes whole; with its tier prices, breaks and modifier groups), meta (the snapshot's version,
// taxes, modifier groups and the store's pricing settings), and sales (register-offline.js's queue).
// Prices without the hub come from register-pricing.js, the hub's rules to the cent.
import { ApiError, api, getSession, setText } from "/static/common.js";
import { PricingError, catalogItem, quoteCart, storedItem } from "./register-pricing.js";
import { $ } from "./register-state.js";
import { labelSettings, lookupLabel, readLabel, rememberLabelSettings } from "./register-labels.js";

export const CATALOG = {
  putBatch: 2000, // snapshot rows per IndexedDB transaction: scans stay answered between batches
};
const DB_NAME = "backroom-register";
// 2: items carry their price lists (snapshot format backroom.catalog.v2). A tablet that kept a version 1
// catalog loads the snapshot again; its queue of sales stays untouched.
const DB_VERSION = 2;
const ROLE_KEY = "backroom.sellerRole"; // who sells here, for the approvals an offline cart would need
const SELLER_KEY = "backroom.seller";

/** An item's modifier groups from the snapshot, as the hub lists them: for picking modifiers offline. */
export async function offlineModifierGroups(sku) {
  if (!catalog.db) return [];
  const stored = await request(catalog.db.transaction("items").objectStore("items").get(sku));
  return stored ? catalogItem(stored, catalog.taxes, catalog.groups).modifier_groups : [];
}

/** Who is signed in on this tablet (as the hub last said): the seller of the sales it queues. */
export const seller = () => localStorage.getItem(SELLER_KEY);
const APPROVAL_NEEDS_HUB = "a manager's approval, which needs the hub; sell without it or wait for the hub.";

export const catalog = {
  db: null, version: 0, complete: false, taxes: {}, groups: {}, store: null, loading: false, loaded: 0, total: 0,
  pulling: false, pullAgain: false,
};
let down = () => {}; // the hub did not answer: register-offline.js takes it from there

// -- IndexedDB ---------------------------------------------------------------------------------

export function request(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

export function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
  });
}

async function openDb() {
  const r = indexedDB.open(DB_NAME, DB_VERSION);
  r.onupgradeneeded = (e) => {
    const db = r.result;
    if (e.oldVersion < 1) {
      db.createObjectStore("items", { keyPath: "sku" }).createIndex("code", "codes", { multiEntry: true });
      db.createObjectStore("meta", { keyPath: "key" });
      db.createObjectStore("sales", { keyPath: "id" }).createIndex("seq", "seq");
      return;
    }
    // items without price lists would price without tiers, breaks and modifiers: gone, and the snapshot loads again
    r.transaction.objectStore("items").clear();
    r.transaction.objectStore("meta").delete("catalog");
  };
  r.onblocked = () => console.warn("another register tab holds the old offline catalog open: close it to upgrade");
  const db = await request(r);
  db.onversionchange = () => db.close(); // a newer register in another tab upgrades: let it
  return db;
}

// The catalog is a copy the hub can send again: its writes need not wait for the disk. The sales
// queue is the only copy of a sale: its writes are strict (on disk before the cashier sees "done").
const RELAXED = { durability: "relaxed" };
export const STRICT = { durability: "strict" };

function putItems(tx, rows) {
  const items = tx.objectStore("items");
  for (const row of rows) items.put(storedItem(row));
}

/** What the snapshot and every delta carry whole: taxes, modifier groups, the store's pricing settings. */
function takeWhole(page) {
  catalog.taxes = page.taxes;
  catalog.groups = page.modifier_groups || {};
  catalog.store = page.store || null;
}

function saveMeta(tx, complete) {
  tx.objectStore("meta").put({ key: "catalog", version: catalog.version, taxes: catalog.taxes, groups: catalog.groups,
    store: catalog.store, complete, synced_at: new Date().toISOString() });
}

// -- the snapshot and its deltas ---------------------------------------------------------------

/** The whole catalog, streamed and written in batches; parsing the next batch overlaps the last write. */
export async function loadSnapshot() {
  if (catalog.loading || !catalog.db) return;
  catalog.loading = true;
  catalog.loaded = 0;
  performance.mark("backroom-snapshot-start");
  renderCatalog();
  try {
    const res = await fetch("/api/v1/catalog/snapshot", { credentials: "same-origin", cache: "no-store" });
    if (!res.ok) throw new ApiError(`the hub refused the catalog snapshot (HTTP ${res.status})`, { status: res.status });
    const clear = catalog.db.transaction(["items", "meta"], "readwrite", RELAXED);
    clear.objectStore("items").clear();
    catalog.complete = false;
    saveMeta(clear, false);
    await finished(clear);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let header = null;
    let rest = "";
    let rows = [];
    let writing = Promise.resolve();
    const flush = async () => {
      const batch = rows;
      rows = [];
      await writing;
      const tx = catalog.db.transaction("items", "readwrite", RELAXED);
      putItems(tx, batch);
      writing = finished(tx).then(() => { catalog.loaded += batch.length; renderCatalog(); });
    };
    for (;;) {
      const { value, done } = await reader.read();
      const lines = (rest + (value || "")).split("\n");
      rest = done ? "" : lines.pop();
      for (const line of lines) {
        if (!line) continue;
        if (header === null) {
          header = JSON.parse(line);
          catalog.total = header.count;
        } else {
          rows.push(JSON.parse(line));
        }
      }
      if (rows.length >= CATALOG.putBatch || (done && rows.length)) await flush();
      if (done) break;
    }
    await writing;
    catalog.version = header.version;
    takeWhole(header);
    const tx = catalog.db.transaction("meta", "readwrite", RELAXED);
    saveMeta(tx, true);
    await finished(tx);
    catalog.complete = true;
    performance.measure("backroom-snapshot", "backroom-snapshot-start");
  } catch (err) {
    if (err.status === 401 || err.status === 403) console.warn("catalog snapshot refused", err);
    else console.warn("catalog snapshot interrupted; it starts again when the hub answers", err);
  } finally {
    catalog.loading = false;
    renderCatalog();
  }
  if (catalog.complete) pullChanges();
}

/** One delta page in one transaction: an item comes whole with its codes, so a removed barcode goes. */
async function applyChanges(page) {
  const tx = catalog.db.transaction(["items", "meta"], "readwrite", RELAXED);
  const items = tx.objectStore("items");
  for (const sku of page.removed) items.delete(sku);
  putItems(tx, page.upserts);
  catalog.version = page.version;
  takeWhole(page);
  saveMeta(tx, true);
  await finished(tx);
}

export async function pullChanges() {
  if (!catalog.complete) return;
  if (catalog.pulling) {
    catalog.pullAgain = true;
    return;
  }
  catalog.pulling = true;
  try {
    do {
      catalog.pullAgain = false;
      let page;
      do {
        page = await api(`/api/v1/catalog/changes?since=${catalog.version}`, { noLoginRedirect: true });
        await applyChanges(page);
      } while (page.more);
    } while (catalog.pullAgain);
    renderCatalog();
  } catch (err) {
    if (err.code === "snapshot_needed") setTimeout(loadSnapshot, 0);
    else if (err.status === 0) down();
    else console.warn("catalog delta failed", err);
  } finally {
    catalog.pulling = false;
  }
}

// -- lookups and prices without the hub ------------------------------------------------------

function gtinKey(digits) {
  if (![8, 12, 13, 14].includes(digits.length)) return null;
  let sum = 0;
  for (let i = digits.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += Number(digits[i]) * w;
  return (10 - (sum % 10)) % 10 === Number(digits.at(-1)) ? digits.padStart(14, "0") : null;
}

function refused(message, status = 404) {
  return new ApiError(message, { status, code: "offline", field: "code" });
}

/** What /api/v1/lookup would answer, from the snapshot: plain GTINs, shop codes, SKUs and scale labels. */
/** Up to limit sellable items whose name or SKU holds text, from the tablet's catalog: the register's
 * search while the hub is out of reach (a parent of variants is left out: its variants are listed). */
export function offlineSearch(text, limit) {
  if (!catalog.db) return Promise.resolve([]);
  const needle = text.toLowerCase();
  const found = [];
  return new Promise((resolve, reject) => {
    const r = catalog.db.transaction("items").objectStore("items").openCursor();
    r.onsuccess = () => {
      const cursor = r.result;
      if (!cursor || found.length >= limit) {
        resolve(found);
        return;
      }
      const { sku, name, unit, price_minor, active, variants } = cursor.value;
      if (active && !variants && (name.toLowerCase().includes(needle) || sku.toLowerCase().includes(needle))) {
        found.push({ sku, name, unit, price_minor });
      }
      cursor.continue();
    };
    r.onerror = () => reject(r.error);
  });
}

export async function offlineLookup(raw) {
  const code = raw.trim().replace(/^\][A-Za-z][0-9]/, "");
  if (!catalog.db) throw refused("The hub can't be reached and this tablet has no catalog yet. Check the Wi-Fi.", 0);
  const items = catalog.db.transaction("items").objectStore("items");
  const label = readLabel(raw); // with the store's label settings, as the hub reads it (register-labels.js)
  if (label.kind.startsWith("rcn_")) {
    const find = { byCode: (k) => request(items.index("code").get(k)), bySku: (s) => request(items.get(s)), taxes: catalog.taxes };
    return lookupLabel(code, label, find).catch((err) => { throw err.status ? refused(err.message, err.status) : err; });
  }
  const key = /^\d+$/.test(code) ? gtinKey(code) : null;
  const byCode = (key && await request(items.index("code").get(key))) || await request(items.index("code").get(code));
  const item = byCode || await request(items.get(code));
  if (!item) {
    if (key && (key.startsWith("02") || key.startsWith("002")) && !labelSettings()) {
      throw refused(`${code} may be a scale label, and this tablet has not yet learned how the store's labels read `
        + "(it does once the hub answers); sell it by its item code instead.", 422);
    }
    throw refused(`No item with the code ${code} in this tablet's catalog (the hub can't be reached to ask).`);
  }
  if (item.variants) throw refused(`${item.name} comes in variants: scan the variant's own code, or type its name to find it.`, 422);
  if (item.unit !== "each") {
    throw refused(`${item.name} is weighed, and weighing needs the hub. Sell it once the hub is back.`, 422);
  }
  const qty = byCode ? (item.packs[key] ?? item.packs[code] ?? 1) : 1;
  const tax_rate_bp = catalog.taxes[item.tax] ?? 0;
  return {
    item: { sku: item.sku, name: item.name, unit: item.unit, price_minor: item.price_minor, tax_rate_bp, active: item.active,
      variant_axes: [] }, // a parent was refused above
    qty, parsed: { kind: key ? "gtin" : "internal", offline: true }, unit_price_minor: item.price_minor,
    line_price_minor: qty * item.price_minor, embedded_price_minor: null, offline: true,
  };
}

/** Why an offline cart can't be priced as it stands: an approval is a manager's token, spent at the hub. */
function needsHub(needed, lines) {
  const changed = lines.find((l) => l.price_override);
  const actions = needed.map((n) => n.action);
  const what = actions.length > 1 ? "This discount and the price change need"
    : actions[0] === "discount" ? "This discount needs" : `The price change${changed ? ` on ${changed.name}` : ""} needs`;
  return new ApiError(`${what} ${APPROVAL_NEEDS_HUB}`, { status: 403, code: "approval_needs_hub", field: "approvals" });
}

/**
 * The cart priced as the hub would (hub.domain.sale.price_lines: tiers, breaks, modifiers, a price
 * label's price, overrides, discounts, tax with the store's rounding), in the hub's quote shape; an
 * offline sale is recorded at these prices. body: {lines, tier, cart_discount}, as POST /sales/quote.
 * A cart that needs a manager's approval is refused: the approval token is spent at the hub.
 */
export async function offlineQuote(body) {
  const cart = Array.isArray(body) ? { lines: body } : body;
  if (!catalog.db || !catalog.store) throw refused("The hub can't be reached and this tablet can't price offline yet.", 0);
  const tx = catalog.db.transaction("items");
  const items = new Map();
  for (const sku of new Set(cart.lines.map((l) => l.sku))) {
    const stored = await request(tx.objectStore("items").get(sku));
    if (stored) items.set(sku, catalogItem(stored, catalog.taxes, catalog.groups));
  }
  let priced;
  try {
    priced = quoteCart(cart, (sku) => items.get(sku) ?? null, catalog.store, localStorage.getItem(ROLE_KEY) || "cashier",
      (code) => readLabel(code));
  } catch (err) {
    if (!(err instanceof PricingError)) throw err;
    const field = err.field.startsWith("lines[") ? err.field : "";
    throw new ApiError(`${err.message}${err.field.endsWith(".sku") ? " (the hub can't be reached to ask)" : ""}`,
      { status: err.status, code: err.code || "offline", field });
  }
  if (priced.approvals_needed.length) throw needsHub(priced.approvals_needed, priced.lines);
  return { ...priced, offline: true, catalog_version: catalog.version };
}

export function renderCatalog() {
  const out = $("offline-catalog");
  if (!out) return;
  let text = "";
  if (catalog.loading) {
    text = catalog.total ? `Offline catalog ${Math.floor((100 * catalog.loaded) / catalog.total)}%` : "Offline catalog…";
  } else if (!catalog.complete) {
    text = "No offline catalog yet";
  }
  out.dataset.state = catalog.loading ? "loading" : catalog.complete ? "ready" : "missing";
  out.dataset.version = String(catalog.version);
  setText(out, text);
}

/** Who sells here and how the store's labels read, kept for selling offline (the session says it while the hub answers). */
export async function rememberStore() {
  try {
    const me = await getSession();
    if (me.role) localStorage.setItem(ROLE_KEY, me.role); // a manager signed in here prices discounts offline
    if (me.user) localStorage.setItem(SELLER_KEY, me.user); // an offline sale is theirs (sold_by)
    rememberLabelSettings(me.store); // how scale labels read, for reading them offline
  } catch {
    // offline at start: the value kept from the last online start serves
  }
}

/** Open the tablet's database and read the snapshot's version; false where IndexedDB is missing. */
export async function openCatalog(hooks) {
  ({ down } = hooks);
  try {
    catalog.db = await openDb();
  } catch (err) {
    console.warn("IndexedDB is not available: this register can't sell offline", err);
    return false;
  }
  const meta = await request(catalog.db.transaction("meta").objectStore("meta").get("catalog"));
  if (meta) {
    Object.assign(catalog, { version: meta.version, taxes: meta.taxes, groups: meta.groups || {}, store: meta.store || null,
      complete: meta.complete });
  }
  renderCatalog();
  rememberStore();
  return true;
}
