// The register's own copy of the catalog, for selling while the hub is out of reach: a snapshot
// streamed into IndexedDB in the background, kept current by deltas, and lookups and prices from it
// in the shapes the hub's /lookup and /sales/quote answer with. register-catalog.js decides when.
// IndexedDB stores: items (by sku, with a multi-entry index on their codes, so an item put replaces
// its codes whole), meta (the snapshot's version), and sales (register-catalog.js's queue).
import { ApiError, api, getSession, setText } from "/static/common.js";
import { $, state } from "./register-state.js";

export const CATALOG = {
  putBatch: 2000, // snapshot rows per IndexedDB transaction: scans stay answered between batches
};
const DB_NAME = "backroom-register";
const TAX_KEY = "backroom.pricesIncludeTax";

export const catalog = {
  db: null, version: 0, complete: false, taxes: {}, loading: false, loaded: 0, total: 0, pulling: false, pullAgain: false,
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
  const r = indexedDB.open(DB_NAME, 1);
  r.onupgradeneeded = () => {
    const db = r.result;
    db.createObjectStore("items", { keyPath: "sku" }).createIndex("code", "codes", { multiEntry: true });
    db.createObjectStore("meta", { keyPath: "key" });
    db.createObjectStore("sales", { keyPath: "id" }).createIndex("seq", "seq");
  };
  return request(r);
}

// The catalog is a copy the hub can send again: its writes need not wait for the disk. The sales
// queue is the only copy of a sale: its writes are strict (on disk before the cashier sees "done").
const RELAXED = { durability: "relaxed" };
export const STRICT = { durability: "strict" };

function putItems(tx, rows) {
  const items = tx.objectStore("items");
  for (const [sku, name, unit, price_minor, tax, active, variants, codes] of rows) {
    const packs = {};
    for (const [code, pack] of codes) if (pack !== 1) packs[code] = pack; // case barcodes: N units a scan
    items.put({ sku, name, unit, price_minor, tax, active: Boolean(active), variants: Boolean(variants),
      codes: codes.map((c) => c[0]), packs });
  }
}

function saveMeta(tx, complete) {
  tx.objectStore("meta").put({ key: "catalog", version: catalog.version, taxes: catalog.taxes, complete,
    synced_at: new Date().toISOString() });
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
    catalog.taxes = header.taxes;
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
  catalog.taxes = page.taxes;
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

/** What /api/v1/lookup would answer, from the snapshot: plain GTINs, shop codes and SKUs. */
export async function offlineLookup(raw) {
  const code = raw.trim().replace(/^\][A-Za-z][0-9]/, "");
  if (!catalog.db) throw refused("The hub can't be reached and this tablet has no catalog yet. Check the Wi-Fi.", 0);
  const items = catalog.db.transaction("items").objectStore("items");
  const key = /^\d+$/.test(code) ? gtinKey(code) : null;
  const byCode = (key && await request(items.index("code").get(key))) || await request(items.index("code").get(code));
  const item = byCode || await request(items.get(code));
  if (!item) {
    if (key && (key.startsWith("02") || key.startsWith("002"))) {
      throw refused(`${code} is a scale label; while the hub can't be reached, sell it by its item code instead.`, 422);
    }
    throw refused(`No item with the code ${code} in this tablet's catalog (the hub can't be reached to ask).`);
  }
  if (item.variants) throw refused(`${item.name} comes in variants: scan the variant's own code.`, 422);
  if (item.unit !== "each") {
    throw refused(`${item.name} is weighed, and weighing needs the hub. Sell it once the hub is back.`, 422);
  }
  const qty = byCode ? (item.packs[key] ?? item.packs[code] ?? 1) : 1;
  const tax_rate_bp = catalog.taxes[item.tax] ?? 0;
  return {
    item: { sku: item.sku, name: item.name, unit: item.unit, price_minor: item.price_minor, tax_rate_bp, active: item.active },
    qty, parsed: { kind: key ? "gtin" : "internal", offline: true }, unit_price_minor: item.price_minor,
    line_price_minor: qty * item.price_minor, embedded_price_minor: null, offline: true,
  };
}

function divHalfUp(n, d) { // hub.domain.money.div_half_up, for amounts >= 0
  const q = BigInt(n) / BigInt(d);
  const r = BigInt(n) % BigInt(d);
  return Number(2n * r >= BigInt(d) ? q + 1n : q);
}

/** The cart priced as the hub would (retail prices, one tax per line); an offline sale is recorded at these prices. */
export async function offlineQuote(lines) {
  const inclusive = JSON.parse(localStorage.getItem(TAX_KEY) ?? "null");
  if (!catalog.db || inclusive === null) throw refused("The hub can't be reached and this tablet can't price offline yet.", 0);
  const tx = catalog.db.transaction("items");
  const out = [];
  for (const [i, l] of lines.entries()) {
    const item = await request(tx.objectStore("items").get(l.sku));
    if (!item) {
      throw new ApiError(`line ${i + 1}: not in this tablet's catalog, so it can't be priced while the hub is out of reach.`,
        { status: 422, field: `lines[${i}].sku` });
    }
    const gross = item.unit === "each" ? l.qty * item.price_minor : divHalfUp(l.qty * item.price_minor, 1000);
    const rate = catalog.taxes[item.tax] ?? 0;
    const tax = inclusive ? divHalfUp(gross * rate, 10000 + rate) : divHalfUp(gross * rate, 10000);
    out.push({ line_no: i + 1, sku: item.sku, name: item.name, unit: item.unit, qty: l.qty,
      unit_price_minor: item.price_minor, total_minor: inclusive ? gross : gross + tax, tax_rate_bp: rate, tax_minor: tax });
  }
  return { currency: state.currency, prices_include_tax: inclusive, lines: out, offline: true, catalog_version: catalog.version,
    total_minor: out.reduce((n, l) => n + l.total_minor, 0), tax_minor: out.reduce((n, l) => n + l.tax_minor, 0) };
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

/** The store's tax setting, kept for pricing offline (the session says it while the hub answers). */
export async function rememberStore() {
  try {
    const me = await getSession();
    if (typeof me.store?.prices_include_tax === "boolean") localStorage.setItem(TAX_KEY, String(me.store.prices_include_tax));
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
  if (meta) Object.assign(catalog, { version: meta.version, taxes: meta.taxes, complete: meta.complete });
  renderCatalog();
  rememberStore();
  return true;
}
