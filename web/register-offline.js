// The register without the hub: while the hub is out of reach, scans and prices come from the
// tablet's catalog (register-catalog.js) and sales paid in cash, on the card terminal or with an
// exchange's credit (held at the hub for this very sale) are queued in IndexedDB (store sales, by
// client id, ordered by seq) until it is back, then sent in order; the hub is idempotent by id, so a
// replay can never sell twice. Gift cards and store credit need the hub's balance: refused offline.
// The queue survives a reload or a closed tab; the page itself comes from the service worker
// (web/sw.js), which this module installs. A sale the hub refuses stays listed under the banner.
import { api, el, formatMoney, formatQtyUnit, formatTime, setText } from "/static/common.js";
import {
  STRICT, catalog, finished, seller, loadSnapshot, offlineLookup, offlineQuote, openCatalog, pullChanges, request,
} from "./register-catalog.js";
import { $, state } from "./register-state.js";

export const OFFLINE = {
  deltaEveryMs: 30000, // a safety net: the hub announces each new catalog version on the register's stream
  probeEveryMs: 3000, // while the hub is out of reach, ask it this often whether it is back
  probeTimeoutMs: 2500,
  snapshotDelayMs: 2000, // the register is ready to scan first; the snapshot loads once the open has settled
};

export const offline = { hubDown: false, waiting: 0, refused: 0, sending: false };
let requote = () => {};
let probeTimer = null;
let seq = 0;
let snapshotTimer = null;

// The terminal works without the hub and the credit is already held at the hub: these queue. A gift
// card or store credit would spend a balance only the hub knows.
const QUEUED_KINDS = ["cash", "card", "exchange"];
const TENDER_NAMES = { cash: "Cash", card: "Card", exchange: "Exchange credit", gift_card: "Gift card",
  store_credit: "Store credit" };

/** Why these tenders can't pay while the hub is out of reach, or "" when they can. */
export function offlineTenderProblem(tenders) {
  const stored = [...new Set(tenders.filter((t) => !QUEUED_KINDS.includes(t.kind)).map((t) => t.kind))];
  if (!stored.length) return "";
  const what = stored.map((k) => (TENDER_NAMES[k] || k).toLowerCase()).join(" and ");
  return `The hub can't be reached, and a ${what} needs it to check the balance: remove it and take another `
    + "tender (cash or card), or wait for the hub.";
}

/** A scan resolved by the hub, or by the snapshot when the hub can't be reached. */
export async function lookup(code) {
  if (!offline.hubDown) {
    try {
      return await api(`/api/v1/lookup?code=${encodeURIComponent(code)}`);
    } catch (err) {
      if (err.status !== 0) throw err;
      markDown();
    }
  }
  return offlineLookup(code);
}

/** The hub's quote, or the snapshot's while the hub can't be reached. */
export async function priceCart(body, signal) {
  if (!offline.hubDown) {
    try {
      return await api("/api/v1/sales/quote", { method: "POST", body, signal });
    } catch (err) {
      if (err.status !== 0 || err.name === "AbortError") throw err;
      markDown();
    }
  }
  return offlineQuote(body); // the whole cart: lines, tier and cart discount
}

// -- the queue of sales made without the hub ---------------------------------------------------

async function hubAnswers() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), OFFLINE.probeTimeoutMs);
  try {
    return (await fetch("/healthz", { cache: "no-store", signal: ctl.signal })).ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The quote the customer was charged, as an offline sale carries it: per line, the total and the catalog version. */
export function chargedPrices(priced, total) {
  return { catalog_version: priced.catalog_version ?? catalog.version, total_minor: total,
    lines: priced.lines.map((l) => ({ unit_price_minor: l.unit_price_minor, total_minor: l.total_minor })) };
}

/**
 * A sale the hub did not answer, paid in cash, card or exchange credit: if the hub is out of reach,
 * keep it in IndexedDB (committed before this resolves, so before the cashier sees "done") and answer
 * as the hub would, numberless. null: not queued (the hub is there, a tender needs the hub, or this
 * tablet can't keep it): the caller retries as before, with the same id.
 */
export async function saleOffline(pending) {
  if (!catalog.db || offlineTenderProblem(pending.body.tenders) || await hubAnswers()) return null;
  markDown();
  // charged: the prices the customer paid; the hub records the sale at them (a queue from before has none)
  // sold_by: the sale is this cashier's, whoever is signed in when the queue reaches the hub
  const body = { ...pending.body, offline: true, recorded_at: new Date().toISOString(),
    ...(pending.charged ? { charged: pending.charged } : {}), ...(seller() ? { sold_by: seller() } : {}) };
  const tx = catalog.db.transaction("sales", "readwrite", STRICT);
  // what was sold, by name: a sale the hub refuses is listed for a manager to settle
  const items = (pending.lines || []).map((l) => ({ name: l.name, qty: l.qty, unit: l.unit }));
  tx.objectStore("sales").put({ id: body.id, seq: Date.now() * 1000 + (seq++ % 1000), body, total: pending.total,
    items, status: "waiting", error: "" });
  await finished(tx);
  await countQueue();
  const tendered = body.tenders.reduce((n, t) => n + t.amount_minor, 0);
  // change comes only out of cash; the tenders let an exchange see that this sale spent its credit
  return { id: body.id, number: null, offline: true, currency: state.currency, total_minor: pending.total,
    tendered_minor: tendered, change_minor: tendered - pending.total, tenders: body.tenders,
    receipt: { status: "offline" } };
}

async function countQueue() {
  if (!catalog.db) return;
  const all = await request(catalog.db.transaction("sales").objectStore("sales").getAll());
  offline.waiting = all.filter((s) => s.status === "waiting").length;
  offline.refused = all.length - offline.waiting;
  const held = all.filter((s) => s.status !== "waiting").sort((a, b) => a.seq - b.seq);
  renderBanner(held);
  renderRefused(held);
}

async function setSale(record) {
  const tx = catalog.db.transaction("sales", "readwrite", STRICT);
  if (record.status === "sent") tx.objectStore("sales").delete(record.id);
  else tx.objectStore("sales").put(record);
  await finished(tx);
}

/** Send the queue in the order the sales were made; refused ones stay, shown, for a manager. */
async function replay() {
  if (offline.sending || offline.hubDown || !catalog.db) return;
  offline.sending = true;
  try {
    const queue = await request(catalog.db.transaction("sales").objectStore("sales").index("seq").getAll());
    for (const record of queue.filter((s) => s.status === "waiting")) {
      renderBanner();
      let answer = null;
      try {
        answer = await api("/api/v1/sales", { method: "POST", body: record.body, noLoginRedirect: true });
        record.status = "sent";
      } catch (err) {
        if (err.status === 0) markDown();
        if (err.uncertain || err.status === 401 || err.code === "csrf") break; // later, with the same body
        record.status = err.code === "idempotency_conflict" ? "conflict" : "refused"; // conflict: never resent
        record.error = err.message;
      }
      await setSale(record);
      await countQueue();
      // an exchange paid from the queue completes now (register-returns.js shows the result)
      dispatchEvent(new CustomEvent(answer ? "backroom:offline-sent" : "backroom:offline-refused",
        { detail: { id: record.id, body: record.body, answer, error: record.error } }));
    }
  } finally {
    offline.sending = false;
    await countQueue();
  }
}

async function retryRefused() {
  const all = await request(catalog.db.transaction("sales").objectStore("sales").getAll());
  for (const record of all.filter((s) => s.status === "refused")) await setSale({ ...record, status: "waiting", error: "" });
  await countQueue();
  replay();
}

function pull() {
  if (!offline.hubDown) pullChanges();
}

/** The first snapshot waits until the register has opened and the cashier has had a moment to start. */
function snapshotSoon() {
  if (snapshotTimer === null) {
    snapshotTimer = setTimeout(() => {
      snapshotTimer = null;
      if (!offline.hubDown && !catalog.complete) loadSnapshot();
    }, OFFLINE.snapshotDelayMs);
  }
}

// -- is the hub there? -------------------------------------------------------------------------

function markDown() {
  if (!offline.hubDown) {
    offline.hubDown = true;
    renderBanner();
  }
  clearTimeout(probeTimer);
  probeTimer = setTimeout(probe, OFFLINE.probeEveryMs);
}

function hubUp() {
  clearTimeout(probeTimer);
  const was = offline.hubDown;
  offline.hubDown = false;
  renderBanner();
  if (was) requote(); // the cart priced from the snapshot goes back to the hub's prices
  replay();
  if (catalog.complete) pullChanges();
  else snapshotSoon();
}

async function probe() {
  if (await hubAnswers()) hubUp();
  else markDown();
}

// -- what the cashier sees ----------------------------------------------------------------------

function plural(n, what) {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function renderBanner(held) {
  const box = $("offline-banner");
  if (!box) return;
  let text = "";
  let kind = "warn";
  if (offline.hubDown) {
    // the hub's scanner and scale are gone with it: a hand scanner on the tablet or typed codes go on
    text = `Offline — ${offline.waiting ? `${plural(offline.waiting, "sale")} waiting. ` : ""}`
      + "Sales in cash, by card or with exchange credit go on from this tablet: scan into the tablet or type the code.";
  } else if (offline.waiting) {
    text = `Back online — sending ${plural(offline.waiting, "sale")}`;
  } else if (offline.refused) {
    text = `${plural(offline.refused, "offline sale")} refused by the hub: ask a manager`;
    kind = "bad";
  }
  if (held) box.title = held.map((s) => `${s.id}: ${s.error}`).join("\n");
  box.hidden = !text;
  box.className = `banner offline-banner banner-${kind}`;
  box.dataset.waiting = String(offline.waiting);
  box.dataset.refused = String(offline.refused);
  box.dataset.hub = offline.hubDown ? "down" : "up";
  setText(box.querySelector(".text"), text);
  box.querySelector("button").hidden = !(offline.refused && !offline.hubDown && !offline.waiting);
}

/** Each sale the hub refused, in sight on the register (a tooltip is no use on a tablet): when it was
 * sold, its total and tenders, and the hub's reason, for a manager to settle. */
function renderRefused(held) {
  const box = $("offline-banner");
  if (!box) return;
  let list = $("offline-refused");
  if (!list) {
    list = el("ul", { id: "offline-refused", "data-testid": "offline-refused", class: "offline-refused",
      "aria-label": "Offline sales the hub refused" });
    box.after(list);
  }
  list.hidden = !held.length;
  list.replaceChildren(...held.map((s) => el("li", { "data-testid": "offline-refused-sale", "data-sale-id": s.id,
    "data-status": s.status },
  el("strong", {}, `${s.body.recorded_at ? formatTime(s.body.recorded_at) : "Sale"} · `
      + `${formatMoney(s.total, state.currency)}`),
  s.items?.length ? el("span", {}, ` · ${s.items.map((i) => (i.unit === "each" ? `${i.qty} × ${i.name}`
    : `${i.name} ${formatQtyUnit(i.qty, i.unit)}`)).join(", ")} ·`) : null,
  el("span", {}, ` ${s.body.tenders.map((t) => `${TENDER_NAMES[t.kind] || t.kind} `
      + `${formatMoney(t.amount_minor, state.currency)}${t.kind === "card" && t.reference ? ` (${t.reference})` : ""}`)
    .join(" + ")}: `),
  el("span", { class: "reason" }, s.error || "refused"))));
}

// -- start ---------------------------------------------------------------------------------------

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    const channel = new MessageChannel();
    const answer = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data?.cached); });
    (reg.active || navigator.serviceWorker.controller)?.postMessage({ type: "cache-page", url: location.pathname },
      [channel.port2]);
    if (await answer) document.body.dataset.shell = "cached";
  } catch (err) {
    console.warn("the register could not be made available offline", err);
  }
}

export async function startOffline(hooks) {
  ({ requote } = hooks);
  registerWorker();
  const badge = $("connection-state");
  new MutationObserver(() => {
    if (badge.dataset.state === "connected") hubUp();
    else if (badge.dataset.state !== "connecting") probe();
  }).observe(badge, { attributes: true, attributeFilter: ["data-state"] });
  addEventListener("offline", markDown);
  addEventListener("backroom:catalog", pull);
  $("offline-retry")?.addEventListener("click", retryRefused);
  if (!(await openCatalog({ down: markDown }))) return;
  await countQueue();
  if (catalog.complete) pull();
  else snapshotSoon();
  setInterval(pull, OFFLINE.deltaEveryMs);
  if (offline.waiting || !navigator.onLine) probe();
}
