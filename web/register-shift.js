// The register's shift: opened with the float counted into the drawer, closed with a cash count
// (a total, or counted by denomination); the Z report then shows on screen and prints on the
// register's receipt printer, with a button to print it again.
import { api, el, formatMoney, formatTime, moneyInputValue, parseMoney } from "/static/common.js";
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
      "Not you? Switch cashier") : null);
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
  sheet("Shift", false, facts, form);
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

function showReport(z) {
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
    row("Float", c.float_minor), row("Expected cash", c.expected_minor, "z-expected"),
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
  sheet(`Z report · shift #${z.shift.number}`, true, table, status, el("div", { class: "sheet-actions" }, printAgain,
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
