// The register's shift: opened with the float counted into the drawer, closed with a cash count
// (a total, or counted by denomination); the Z report then shows on screen and prints on the
// register's receipt printer, with a button to print it again. Before the count and on the Z report
// the cashier sees what changes the drawer from earlier shifts: cash paid back for an earlier
// shift's sale voided now (it lowers the expected cash), and offline sales of an earlier shift that
// reached the hub late (their cash is that shift's). Earlier shifts' Z reports are one tap away.
import { api, el, formatMoney, formatTime, moneyInputValue, parseMoney } from "/static/common.js";
import { askManagerApproval } from "./register-approval.js";
import { registerId, state } from "./register-state.js";

const DENOMINATIONS = [50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1];
const JOB_POLL_MS = 1000;
const base = `/api/v1/registers/${encodeURIComponent(registerId)}`;
const money = (minor) => formatMoney(minor, state.currency);
let current = null; // the open shift, or null

function sheet(title, forced, ...children) {
  document.getElementById("shift-sheet")?.remove();
  const close = () => document.getElementById("shift-sheet")?.remove();
  const node = el("div", { id: "shift-sheet", class: "sheet-backdrop", "data-testid": "shift-sheet" },
    el("section", { class: "sheet shift", role: "dialog", "aria-modal": "true", "aria-labelledby": "shift-title",
      onkeydown: (e) => { if (e.key === "Escape" && !forced) close(); } },
    el("h2", { id: "shift-title" }, title), ...children,
    forced ? null : el("button", { type: "button", class: "btn", onclick: close }, "Back to the sale")));
  document.body.append(node);
  node.querySelector("input, .btn-primary")?.focus();
  return node;
}

function notice(text = "") {
  return el("p", { class: "notice notice-bad", role: "alert", hidden: !text }, text);
}

function amountField(id, label, testid) {
  return el("div", { class: "tendered" }, el("label", { for: id }, label),
    el("input", { id, class: "input", inputmode: "decimal", autocomplete: "off", placeholder: "0.00",
      "data-testid": testid, enterkeyhint: "done" }));
}

const receiptCode = (number) => `S${String(number).padStart(8, "0")}`;

/** What this drawer holds or lacks because of earlier shifts, in words for the cashier counting it. */
function drawerNotes(report) {
  const notes = [];
  const voids = report.cash?.voids_minor || 0;
  if (voids) {
    const n = report.voids?.earlier_shifts_count || 0;
    notes.push(el("p", { class: "notice notice-warn drawer-note", "data-testid": "shift-cash-voids" },
      el("strong", {}, `Cash voids ${money(-voids)}. `),
      `Paid back from this drawer for ${n === 1 ? "a sale" : `${n} sales`} of an earlier shift, voided during `
      + `this one. The expected cash is ${money(voids)} lower for it.`));
  }
  const late = report.late_offline_sales;
  if (late?.count) {
    const cash = late.sales.reduce((sum, sale) => sum + (sale.cash_minor || 0), 0);
    notes.push(el("div", { class: "notice notice-warn drawer-note late-offline", "data-testid": "shift-late-offline" },
      el("strong", {}, `Late offline sales: ${late.count} · ${money(late.total_minor)}`),
      el("p", {}, `Sold while the register could not reach the hub, during an earlier shift, and received after `
        + `that shift had closed. Their cash (${money(cash)}) went into that shift's drawer: it is not in the `
        + "expected cash here."),
      el("ul", {}, ...late.sales.map((sale) => el("li", { "data-testid": "late-offline-sale" },
        `${receiptCode(sale.number)} · shift #${sale.shift_number} · sold ${formatTime(sale.recorded_at)} · `
        + `${money(sale.total_minor)}${sale.cash_minor ? `, cash ${money(sale.cash_minor)}` : ""}`)))));
  }
  return notes;
}

async function historySheet(back) {
  const list = el("ul", { class: "parked-list", "data-testid": "shift-history" }, el("li", { class: "muted" }, "Loading…"));
  sheet("Earlier shifts", true, list, el("button", { type: "button", class: "btn", onclick: back }, "Back"));
  try {
    const { reports } = await api(`${base}/shifts?limit=10`);
    list.replaceChildren(...(reports.length ? reports.map((z) => {
      const over = z.cash.over_short_minor;
      const flags = [z.late_offline_sales?.count ? `${z.late_offline_sales.count} late offline` : "",
        z.cash.voids_minor ? `cash voids ${money(-z.cash.voids_minor)}` : ""].filter(Boolean);
      return el("li", {}, el("button", { type: "button", class: "btn past-shift", "data-testid": "past-shift",
        "data-number": z.shift.number, onclick: () => showReport(z, () => historySheet(back)) },
      el("strong", {}, `Shift #${z.shift.number}`),
      el("span", {}, ` closed ${formatTime(z.shift.closed_at)} · ${over > 0 ? "over" : over < 0 ? "short" : "even"}`
        + `${over ? ` ${money(Math.abs(over))}` : ""}`),
      flags.length ? el("span", { class: "badge badge-warn" }, flags.join(" · ")) : null));
    }) : [el("li", { class: "muted" }, "No shift has closed on this register yet.")]));
  } catch (err) {
    list.replaceChildren(el("li", { class: "notice notice-bad" }, err.message));
  }
}

function historyButton(back) {
  return el("button", { type: "button", class: "btn btn-quiet", "data-testid": "shift-history-button",
    onclick: () => historySheet(back) }, "Earlier shifts");
}

function openSheet(forced) {
  const message = notice();
  const form = el("form", { class: "shift-form", autocomplete: "off" },
    amountField("float-input", "Cash counted into the drawer (float)", "float-input"), message,
    el("button", { class: "btn btn-primary signin-big", type: "submit", "data-testid": "open-shift" }, "Open shift"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const float = parseMoney(form.querySelector("input").value || "0");
    if (float === null) {
      Object.assign(message, { textContent: "Type the float as an amount, e.g. 150.00.", hidden: false });
      return;
    }
    try {
      current = await api(`${base}/shifts`, { method: "POST", body: { float_minor: float } });
      document.getElementById("shift-sheet")?.remove();
      renderButton();
    } catch (err) {
      Object.assign(message, { textContent: err.message, hidden: false });
    }
  });
  sheet("Open a shift", forced, el("p", {}, "Count the cash in the drawer before the first sale."), form,
    forced ? el("button", { type: "button", class: "btn", onclick: () => document.getElementById("sign-out")?.click() },
      "Not you? Switch cashier") : null, historyButton(() => openSheet(forced)));
}

async function shiftSheet() {
  if (!current) {
    openSheet(false);
    return;
  }
  const { report } = await api(`${base}/shift`);
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Shift"), el("dd", {}, `#${current.number}, opened ${formatTime(current.opened_at)} by `
      + `${current.opened_by.replace(/^user:/, "")}`),
    el("dt", {}, "Sales"), el("dd", {}, `${report.sales.count} · ${money(report.sales.total_minor)}`),
    report.cash.voids_minor ? [el("dt", {}, "Cash voids"), el("dd", { "data-testid": "cash-voids" },
      money(-report.cash.voids_minor))] : null,
    report.cash.paid_in_minor ? [el("dt", {}, "Paid in"), el("dd", { "data-testid": "paid-in" },
      money(report.cash.paid_in_minor))] : null,
    report.cash.paid_out_minor ? [el("dt", {}, "Paid out"), el("dd", { "data-testid": "paid-out" },
      money(-report.cash.paid_out_minor))] : null,
    el("dt", {}, "Expected cash"), el("dd", { "data-testid": "expected-cash" }, money(report.cash.expected_minor)));
  const counts = el("div", { class: "denominations", hidden: true },
    ...DENOMINATIONS.map((d) => el("label", {}, money(d),
      el("input", { class: "input", inputmode: "numeric", "data-value": d, placeholder: "0", autocomplete: "off" }))));
  const message = notice();
  const form = el("form", { class: "shift-form", autocomplete: "off" },
    amountField("count-input", "Cash counted in the drawer", "count-input"),
    el("button", { type: "button", class: "btn btn-quiet", onclick: () => { counts.hidden = !counts.hidden; } },
      "Count by notes and coins"), counts, message,
    el("button", { class: "btn btn-primary signin-big", type: "submit", "data-testid": "close-shift" },
      "Close shift and print the Z report"));
  const total = form.querySelector("#count-input");
  counts.addEventListener("input", () => {
    const sum = [...counts.querySelectorAll("input")].reduce((s, i) => s + Number(i.dataset.value)
      * (Number.parseInt(i.value, 10) || 0), 0);
    total.value = moneyInputValue(sum);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const counted = parseMoney(total.value);
    if (counted === null) {
      Object.assign(message, { textContent: "Type the cash you counted, e.g. 412.50.", hidden: false });
      return;
    }
    const body = { counted_minor: counted };
    const counted_by = [...counts.querySelectorAll("input")].filter((i) => Number.parseInt(i.value, 10) > 0)
      .map((i) => ({ value_minor: Number(i.dataset.value), count: Number.parseInt(i.value, 10) }));
    if (!counts.hidden && counted_by.length) body.denominations = counted_by;
    try {
      const z = await api(`/api/v1/shifts/${current.id}/close`, { method: "POST", body });
      current = null;
      renderButton();
      showReport(z);
    } catch (err) {
      Object.assign(message, { textContent: err.message, hidden: false });
    }
  });
  const cash = el("button", { type: "button", class: "btn", "data-testid": "cash-in-out", onclick: cashSheet },
    "Cash in or out");
  sheet("Shift", false, facts, ...drawerNotes(report), cash, form, historyButton(shiftSheet));
}

/** Cash paid into or out of the drawer outside a sale, with a reason (hub.cash_movements); a cashier's
 * paid out asks a manager's PIN first. The same id is sent again on a retry, so it counts once. */
function cashSheet() {
  const message = notice();
  const reason = el("input", { class: "input", id: "cash-reason", maxlength: "80", autocomplete: "off",
    "data-testid": "cash-reason", placeholder: "What for, e.g. change from the bank" });
  let kind = "paid_out";
  const kinds = el("div", { class: "choices", role: "group", "aria-label": "In or out" },
    ...[["paid_out", "Paid out"], ["paid_in", "Paid in"]].map(([k, label]) => el("button", {
      type: "button", class: "btn", "data-kind": k, "aria-pressed": String(k === kind), onclick: (e) => {
        kind = k;
        for (const b of kinds.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
      } }, label)));
  const id = crypto.randomUUID();
  const form = el("form", { class: "shift-form", autocomplete: "off" }, kinds,
    amountField("cash-amount", "Amount", "cash-amount"),
    el("label", { for: "cash-reason" }, "Reason"), reason, message,
    el("button", { class: "btn btn-primary signin-big", type: "submit", "data-testid": "cash-move" },
      "Record and open the drawer"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const amount = parseMoney(form.querySelector("#cash-amount").value);
    if (!amount) {
      Object.assign(message, { textContent: "Type the amount, e.g. 20.00.", hidden: false });
      return;
    }
    if (!reason.value.trim()) {
      Object.assign(message, { textContent: "Say what the cash is for: it prints on the Z report.", hidden: false });
      return;
    }
    const body = { id, kind, amount_minor: amount, reason: reason.value.trim() };
    try {
      const me = await api("/api/v1/session");
      if (kind === "paid_out" && !["manager", "owner"].includes(me.role)) {
        const token = await askManagerApproval("paid_out", { amount_minor: amount });
        if (!token) return;
        body.approval = token;
      }
      await api(`${base}/cash-movements`, { method: "POST", body });
      shiftSheet();
    } catch (err) {
      Object.assign(message, { textContent: err.message, hidden: false });
    }
  });
  sheet("Cash in or out", false, el("p", { class: "muted" }, "Cash that goes into or out of the drawer outside a "
    + "sale: it counts in the expected cash and prints on the Z report with its reason."), form,
  el("button", { type: "button", class: "btn", onclick: shiftSheet }, "Back to the shift"));
}

function row(label, minor, testid) {
  return el("tr", { "data-testid": testid }, el("th", { scope: "row" }, label), el("td", { class: "num" }, money(minor)));
}

async function watchJob(job, status) {
  if (!job) {
    status.textContent = "No receipt printer on this register: the report is kept on the hub.";
    return;
  }
  for (let i = 0; i < 30; i++) {
    const now = await api(`/api/v1/print-jobs/${job.job_id}`).catch(() => null);
    if (now?.status === "printed") {
      status.textContent = "Printed.";
      status.dataset.state = "printed";
      return;
    }
    status.textContent = now?.status === "failed" ? `Not printed: ${now.error}` : "Printing…";
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
  }
}

/** A Z report on screen: just closed (back null: print status, then the next shift), or a past one. */
function showReport(z, back = null) {
  const c = z.cash;
  const over = c.over_short_minor;
  const table = el("table", { class: "zreport", "data-testid": "z-report" }, el("tbody", {},
    row(`Sales (${z.sales.count})`, z.sales.total_minor, "z-sales"),
    ...z.tenders.map((t) => row(`${t.kind[0].toUpperCase()}${t.kind.slice(1)} (${t.count})`, t.amount_minor,
      `z-tender-${t.kind}`)),
    ...z.taxes.map((t) => row(`Tax ${t.rate_bp / 100}% on ${money(t.total_minor)}`, t.tax_minor, "z-tax")),
    row(`Returns (${z.returns.count})`, -z.returns.total_minor, "z-returns"),
    row(`Voids (${z.voids.count})`, z.voids.total_minor, "z-voids"),
    row("Discounts", z.discounts_minor, "z-discounts"),
    row("Float", c.float_minor), row("Cash sales", c.sales_minor, "z-cash-sales"),
    c.refunds_minor ? row("Cash refunds", -c.refunds_minor, "z-cash-refunds") : null,
    c.voids_minor ? row("Cash voids (earlier shifts)", -c.voids_minor, "z-cash-voids") : null,
    c.paid_in_minor ? row("Paid in", c.paid_in_minor, "z-paid-in") : null,
    c.paid_out_minor ? row("Paid out", -c.paid_out_minor, "z-paid-out") : null,
    row("Expected cash", c.expected_minor, "z-expected"),
    row("Counted cash", c.counted_minor, "z-counted"),
    el("tr", { class: over ? "bad" : "ok", "data-testid": "z-over-short" },
      el("th", { scope: "row" }, over > 0 ? "Over" : over < 0 ? "Short" : "Over/short"),
      el("td", { class: "num" }, money(over)))));
  const status = el("p", { class: "receipt-status", "data-testid": "z-print-status", role: "status" });
  const printAgain = el("button", { type: "button", class: "btn", "data-testid": "z-print", onclick: async () => {
    try {
      watchJob(await api(`/api/v1/shifts/${z.shift.id}/print`, { method: "POST", body: {} }), status);
    } catch (err) {
      status.textContent = err.message;
    }
  } }, "Print again");
  const title = `Z report · shift #${z.shift.number}`;
  if (back) {
    sheet(title, true, el("p", { class: "muted" }, `Closed ${formatTime(z.shift.closed_at)} by `
      + `${(z.shift.closed_by || "").replace(/^user:/, "")}`), table, ...drawerNotes(z), status,
    el("div", { class: "sheet-actions" }, printAgain, el("button", { type: "button", class: "btn", onclick: back },
      "Back")));
    return;
  }
  sheet(title, true, table, ...drawerNotes(z), status, el("div", { class: "sheet-actions" }, printAgain,
    el("button", { type: "button", class: "btn btn-primary", "data-testid": "next-shift",
      onclick: () => openSheet(true) }, "Open the next shift")));
  watchJob(z.print_job, status);
}

function renderButton() {
  let button = document.getElementById("shift-button");
  if (!button) {
    button = el("button", { id: "shift-button", class: "btn btn-quiet", type: "button", "data-testid": "shift-button",
      onclick: () => shiftSheet() });
    document.getElementById("sign-out")?.before(button);
  }
  button.textContent = current ? `Shift #${current.number}` : "No shift";
  button.dataset.state = current ? "open" : "closed";
}

/** On a paired tablet with someone signed in: the shift must be open before the first sale. */
export async function startShift() {
  try {
    current = (await api(`${base}/shift`)).shift;
  } catch {
    return; // out of reach: the offline register carries on with the shift it had
  }
  renderButton();
  if (!current) openSheet(true);
}
