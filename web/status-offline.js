// The status page's "Sales made offline" panel: sales a register queued while it could not reach the
// hub, as they arrived. For each: when the cashier sold it and when it reached the hub, the register
// and its tablet, what the customer paid against the sale at the hub's prices, each line whose price
// differed, and items it sold below zero stock (linked to the stock exceptions). An owner marks a sale
// reviewed; the sales with differences still unreviewed are counted in the top bar.
import { api, el, formatDuration, formatMoney, formatQtyUnit, formatTime, getSession, setText } from "/static/common.js";

const PAGE = 20;
const VIEWS = { review: "differences=1&reviewed=0", all: "" };
let owner = false;
let view = "review";
let cursor = null; // the next page of the current view, or null
let asked = 0; // the latest list request; older answers are dropped

const list = el("ul", { class: "review-list offline-list", "data-testid": "offline-list" });
const empty = el("p", { class: "notice notice-ok", "data-testid": "offline-empty", role: "status", hidden: true });
const message = el("p", { class: "result", role: "status", "data-testid": "offline-message" });
const more = el("button", { type: "button", class: "btn load-more", hidden: true, onclick: () => load(true) },
  "Show more");
const badge = el("span", { class: "badge badge-off", "data-testid": "offline-badge" }, "–");
const LABELS = { review: "To review: prices and approvals", all: "All offline sales" };
const tabs = Object.fromEntries(Object.keys(VIEWS).map((v) => [v, el("button", { type: "button", class: "btn",
  "data-testid": `offline-view-${v}`, "aria-pressed": String(v === view), onclick: () => show(v) }, LABELS[v])]));
// the top bar's count: there on every screen of the page, a link down to the panel
const summary = el("a", { class: "btn offline-summary", href: "#offline-sales", "data-testid": "offline-review-count",
  hidden: true });

const when = (iso) => el("time", { datetime: iso, title: formatTime(iso) }, formatTime(iso));

function qty(line) {
  if (line.qty == null) return "";
  return line.unit === "each" || !line.unit ? `${line.qty} ×` : formatQtyUnit(line.qty, line.unit);
}

function differenceText(sale, money) {
  const d = sale.difference_minor;
  if (d == null) return "Sent before registers said what they charged: kept at the hub's prices.";
  if (d === 0 && sale.price_differences.length) return "Lines differ, the total is the same as at the hub's prices.";
  if (d === 0) return "Charged at the hub's prices.";
  return d < 0 ? `The customer paid ${money(-d)} less than at the hub's prices.`
    : `The customer paid ${money(d)} more than at the hub's prices.`;
}

function linesTable(sale, money) {
  if (!sale.price_differences.length) return null;
  return el("div", { class: "table-wrap" }, el("table", { class: "stock-table", "data-testid": "offline-lines" },
    el("thead", {}, el("tr", {}, el("th", {}, "Item"), el("th", { class: "num" }, "Charged"),
      el("th", { class: "num" }, "Hub's price"), el("th", { class: "num" }, "Line charged"),
      el("th", { class: "num" }, "Line at hub's price"))),
    el("tbody", {}, ...sale.price_differences.map((d) => el("tr", { "data-testid": "offline-line", "data-sku": d.sku },
      el("td", {}, `${qty(d)} ${d.name} `, el("span", { class: "mono muted" }, d.sku)),
      el("td", { class: "num" }, money(d.charged_unit_price_minor)),
      el("td", { class: "num" }, money(d.today_unit_price_minor)),
      el("td", { class: "num" }, money(d.charged_total_minor)),
      el("td", { class: "num" }, money(d.today_total_minor)))))));
}

function reviewBox(sale) {
  if (sale.reviewed) {
    const note = sale.reviewed.note ? `: ${sale.reviewed.note}` : "";
    return el("p", { class: "muted", "data-testid": "offline-reviewed" },
      `Reviewed by ${sale.reviewed.by.replace(/^(user|token):/, "")} `, when(sale.reviewed.at), note);
  }
  if (!owner || (!sale.price_differences.length && !sale.oversold.length && !sale.approvals_missing.length)) return null;
  const note = el("input", { class: "input", maxlength: "200", placeholder: "Note (optional): what was done",
    "aria-label": `Note on sale ${sale.receipt_code}`, autocomplete: "off" });
  const button = el("button", { class: "btn btn-primary", type: "submit", "data-testid": "offline-mark-reviewed" },
    "Mark reviewed");
  const form = el("form", { class: "review-actions offline-review" }, note, button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    button.textContent = "Saving…";
    try {
      await api(`/api/v1/offline-sales/${encodeURIComponent(sale.sale_id)}/review`,
        { method: "POST", body: note.value.trim() ? { note: note.value.trim() } : {} });
      setText(message, `Sale ${sale.receipt_code} is reviewed.`);
      await load(false);
    } catch (err) {
      setText(message, err.message);
      button.disabled = false;
      button.textContent = "Mark reviewed";
    }
  });
  return form;
}

const who = (actor) => actor.replace(/^(user|token):/, "");

/** What a manager would have approved, had the hub been there (hub.cart settle_offline). */
function approvalsText(sale, money) {
  if (!sale.approvals_missing?.length) return null;
  const said = sale.approvals_missing.map((m) => {
    if (m.reason === "seller_unknown") return `it names ${m.details.sold_by} as the seller, who is not a person here`;
    if (m.reason === "seller_unverified") {
      return `${m.details.sold_by} (${m.details.role}) gave its discount or price change, but someone else sent it`;
    }
    if (m.action === "discount") return `its discount of ${money(m.details.discount_minor)} had no manager's approval`;
    if (m.action === "price_override") return "its price change had no manager's approval";
    return `${m.action} had no approval`;
  });
  return el("p", { class: sale.reviewed ? "muted" : "notice notice-warn", "data-testid": "offline-approvals" },
    `Made without the hub, so no manager could approve it here: ${said.join("; ")}. Check it with the cashier.`);
}

function saleRow(sale) {
  const money = (minor) => formatMoney(minor, sale.currency);
  const tablet = sale.tablet ? el("span", { title: sale.tablet.user_agent || "" }, `tablet ${sale.tablet.id.slice(0, 8)}`)
    : el("span", { class: "muted" }, "no paired tablet (sent by an integration)");
  const late = Date.parse(sale.received_at) - Date.parse(sale.recorded_at);
  return el("li", { class: "review-row offline-sale", "data-testid": "offline-sale", "data-sale": sale.sale_id,
    "data-reviewed": sale.reviewed ? "yes" : "no" },
  el("div", { class: "review-head" }, el("span", {}, `Sale ${sale.receipt_code}`),
    el("span", { class: "muted" }, `${sale.register_name || sale.register_id}`), el("span", { class: "spacer" }),
    sale.voided ? el("span", { class: "badge badge-off" }, "voided since") : null,
    sale.price_differences.length ? el("span", { class: `badge ${sale.reviewed ? "badge-off" : "badge-warn"}` },
      `${sale.price_differences.length} price${sale.price_differences.length === 1 ? " differs" : "s differ"}`) : null,
    sale.approvals_missing.length ? el("span", { class: `badge ${sale.reviewed ? "badge-off" : "badge-warn"}` },
      "approval not asked") : null,
    sale.oversold.length ? el("span", { class: "badge badge-bad" }, "below zero stock") : null),
  el("dl", { class: "facts" },
    el("dt", {}, "Sold"), el("dd", { "data-testid": "offline-sold-at" }, when(sale.recorded_at),
      ` by ${who(sale.cashier)}`,
      sale.sent_by && sale.sent_by !== sale.cashier ? el("span", { class: "muted" }, `, sent by ${who(sale.sent_by)}`)
        : null),
    el("dt", {}, "Reached the hub"), el("dd", { "data-testid": "offline-received-at" }, when(sale.received_at),
      late >= 1000 ? el("span", { class: "muted" }, ` (${formatDuration(late / 1000)} later)`) : null),
    el("dt", {}, "Register"), el("dd", {}, sale.register_name || sale.register_id,
      sale.register_name && sale.register_name !== sale.register_id
        ? [" ", el("span", { class: "mono muted" }, sale.register_id)] : null, " · ", tablet),
    el("dt", {}, "Priced from"), el("dd", {}, sale.catalog_version == null ? "–"
      : `the tablet's catalog, version ${sale.catalog_version}`),
    el("dt", {}, "Charged"), el("dd", { "data-testid": "offline-charged" }, money(sale.charged_total_minor)),
    el("dt", {}, "At the hub's prices"), el("dd", { "data-testid": "offline-today" },
      sale.today_total_minor == null ? "–" : money(sale.today_total_minor))),
  el("p", { class: sale.price_differences.length && !sale.reviewed ? "notice notice-warn" : "muted", "data-testid": "offline-difference" },
    differenceText(sale, money)),
  linesTable(sale, money),
  approvalsText(sale, money),
  sale.oversold.length ? el("p", { "data-testid": "offline-oversold" }, "Sold below zero stock: ",
    ...sale.oversold.flatMap((o, i) => [i ? ", " : "", el("a", { href: `/stock/${encodeURIComponent(o.sku)}` }, o.name)]),
    ". ", el("a", { href: "/stock?view=exceptions", "data-testid": "offline-exceptions-link" },
      "See the stock exceptions"), " to count or receive them.") : null,
  reviewBox(sale));
}

function renderSummary(s) {
  const n = s.unreviewed;
  summary.hidden = n === 0;
  setText(summary, `${n} offline sale${n === 1 ? "" : "s"} to review`);
  summary.dataset.count = String(n);
  badge.dataset.count = String(n);
  setText(badge, n ? `${n} to review` : s.offline_sales ? "All reviewed" : "None");
  badge.className = `badge ${n ? "badge-warn" : "badge-ok"}`;
  setText(tabs.review, `${LABELS.review} (${n})`);
  setText(tabs.all, `${LABELS.all} (${s.offline_sales})`);
}

function renderEmpty(s) {
  if (view === "review") {
    return s.offline_sales
      ? `All is well: the ${s.offline_sales} sale${s.offline_sales === 1 ? "" : "s"} registers made offline `
        + "were charged at the hub's prices, or have been reviewed."
      : "All is well: no register has had to sell without the hub.";
  }
  return "No register has had to sell without the hub.";
}

async function load(append) {
  const query = [VIEWS[view], `limit=${PAGE}`, append && cursor ? `cursor=${encodeURIComponent(cursor)}` : ""]
    .filter(Boolean).join("&");
  const mine = ++asked;
  const page = await api(`/api/v1/offline-sales?${query}`);
  if (mine !== asked) return; // a newer question (another view, a refresh) is on its way: its answer counts
  renderSummary(page.summary);
  const rows = page.sales.map(saleRow);
  if (append) list.append(...rows);
  else list.replaceChildren(...rows);
  cursor = page.next_cursor;
  more.hidden = !cursor;
  empty.hidden = list.children.length > 0;
  if (!empty.hidden) setText(empty, renderEmpty(page.summary));
}

function show(v) {
  view = v;
  for (const [k, tab] of Object.entries(tabs)) tab.setAttribute("aria-pressed", String(k === v));
  setText(message, "");
  load(false).catch((err) => setText(message, err.message));
}

async function start() {
  const me = await getSession().catch(() => null);
  if (!me || !["manager", "owner"].includes(me.role)) return;
  owner = me.role === "owner";
  const panel = el("section", { class: "card offline-panel", id: "offline-sales", "aria-labelledby": "offline-title",
    "data-testid": "offline-sales" },
  el("header", {}, el("h2", { id: "offline-title" }, "Sales made offline"), badge),
  el("p", { class: "muted" }, "Sales registers made while they could not reach the hub, priced from their own "
    + "copy of the catalog. Where that copy was out of date, the customer paid another price than the hub's."),
  el("div", { class: "choices" }, ...Object.values(tabs)), message, empty, list, more);
  (document.querySelector(".cards") || document.querySelector("main")?.firstElementChild)?.after(panel);
  document.querySelector(".topbar a[href='/items']")?.before(summary);
  await load(false).catch((err) => setText(message, err.message));
  // the status stream carries the counts: the list is asked again only when they change (no polling),
  // and not while the owner types a note, nor when more pages are open
  let seen = "";
  addEventListener("backroom:status", (e) => {
    const counts = JSON.stringify(e.detail.offline_sales || null);
    if (counts === seen) return;
    const first = !seen;
    seen = counts;
    const typing = panel.contains(document.activeElement) && document.activeElement.matches("input");
    if (!first && !typing && list.children.length <= PAGE) load(false).catch(() => {});
  });
}

start();
