// Cycle counts on /stock?view=counts: today's count list, opening a session, the sessions, and a
// session's review, where a manager approves, rejects or sends back the lines over the limits.
import { ApiError, api, el, setText } from "/static/common.js";
import { $, clearErrors, money, placeName, shortTime, showResult, signed, submitting, who } from "./stock.js";

const STATUS = {
  open: ["Counting", "badge-ok"], review: ["Waiting for approval", "badge-warn"], closed: ["Closed", "badge-off"],
  cancelled: ["Cancelled", "badge-off"],
};
const LINE = {
  to_count: ["To count", "badge-off"], counted: ["Counted", "badge-ok"], needs_approval: ["Needs approval", "badge-warn"],
  recount: ["Recount asked", "badge-warn"], approved: ["Approved", "badge-ok"], rejected: ["Rejected", "badge-off"],
  posted: ["Posted", "badge-ok"],
};
const DECISIONS = [["approve", "Approve", "btn-primary"], ["recount", "Recount", ""], ["reject", "Reject", "btn-danger"]];
const chosen = []; // SKUs for a count of chosen items: [{sku, name}]
let current = null; // the session under review, as the hub last sent it

const badge = ([text, kind]) => el("span", { class: `badge ${kind}` }, text);
const countHref = (id) => `/count/${id}`;

function scopeText(s) {
  if (s.scope_kind === "location") return `everything at ${placeName(s.location)}`;
  if (s.scope_kind === "daily") return `today's list (${s.scope.length} items) at ${placeName(s.location)}`;
  if (s.scope_kind === "items") return `${s.scope.length} chosen item${s.scope.length === 1 ? "" : "s"} at ${placeName(s.location)}`;
  return `${s.scope_kind} ${s.scope} at ${placeName(s.location)}`;
}

// -- today's list and the sessions ------------------------------------------------------------------

async function loadDaily() {
  try {
    const daily = await api("/api/v1/counts/daily");
    $("daily-list").replaceChildren(...daily.items.map((i) => el("li", { class: "row", "data-testid": "daily-row", dataset: { sku: i.sku } },
      el("span", { class: "grow" }, i.name, " ", el("span", { class: "mono muted" }, i.sku)),
      i.aisle ? el("span", {}, `aisle ${i.aisle}`) : "", el("span", { class: "badge badge-off" }, `class ${i.class}`))));
    setText($("daily-note"), daily.items.length ? `${daily.items.length} items are due on ${daily.date}.` : `Nothing is due on ${daily.date}.`);
  } catch (err) {
    setText($("daily-note"), err.message);
  }
}

async function loadSessions() {
  try {
    const { sessions } = await api("/api/v1/counts");
    $("session-list").replaceChildren(...sessions.map((s) => el("li", {
      class: `row ${current?.id === s.id ? "selected" : ""}`, "data-testid": "session-row", dataset: { sessionId: s.id, status: s.status },
    }, el("span", { class: "grow" }, el("strong", {}, `#${s.id} `), scopeText(s), el("span", { class: "sub" },
      [`${s.lines_counted} counted`, s.lines_waiting ? `${s.lines_waiting} waiting` : "", s.blind ? "blind" : "open book",
        `${shortTime(s.created_at)} by ${who(s.created_by)}`].filter(Boolean).join(" · "))),
    badge(STATUS[s.status] || [s.status, "badge-off"]),
    el("a", { class: "btn", href: `/stock?view=counts&session=${s.id}`, "data-nav": "", "data-testid": "session-review" }, "Review"),
    ["open", "review"].includes(s.status) ? el("a", { class: "btn", href: countHref(s.id), "data-testid": "session-count" }, "Count") : "")));
    setText($("session-note"), sessions.length ? "" : "No count yet: start one above.");
  } catch (err) {
    setText($("session-note"), err.message);
  }
}

// -- one session's review ---------------------------------------------------------------------------

function reviewLine(line) {
  const waiting = line.status === "needs_approval";
  return el("tr", { "data-testid": "count-line", dataset: { sku: line.sku, status: line.status, variance: line.variance ?? "" } },
    el("td", {}, line.name, el("span", { class: "sub mono" }, [line.sku, line.aisle && `aisle ${line.aisle}`].filter(Boolean).join(" · ")),
      line.note ? el("span", { class: "sub" }, `“${line.note}”`) : "", line.photo ? el("span", { class: "sub" }, "photo attached") : "",
      badge(LINE[line.status] || [line.status, "badge-off"])),
    el("td", { class: "num", "data-testid": "line-counted", "data-label": "Counted" }, String(line.counted)),
    el("td", { class: "num", "data-testid": "line-expected", "data-label": "Expected" }, String(line.ledger_qty ?? "–")),
    el("td", { class: `num ${line.variance < 0 ? "bad" : line.variance > 0 ? "good" : ""}`, "data-testid": "line-variance", "data-label": "Variance" },
      line.variance == null ? "–" : signed(line.variance)),
    el("td", { class: "num", "data-testid": "line-value", "data-label": "Value" }, line.variance_minor == null ? "–" : money(line.variance_minor)),
    el("td", { class: "decide" }, waiting ? DECISIONS.map(([action, label, kind]) => el("button", {
      type: "button", class: `btn ${kind}`, "data-testid": `line-${action}`, onclick: (e) => decide(e.currentTarget, line, action),
    }, label)) : ""));
}

function renderSession(s) {
  current = s;
  $("review-card").hidden = false;
  $("review-card").dataset.sessionId = s.id;
  $("review-card").dataset.status = s.status;
  setText($("count-review-title"), `Count #${s.id}: ${scopeText(s)}`);
  const { to_count: left, counted, waiting } = s.summary;
  setText($("count-review-meta"), [`${STATUS[s.status]?.[0] || s.status}`, s.blind ? "blind" : "open book", `${counted} counted`,
    left ? `${left} not counted yet` : "", waiting ? `${waiting} waiting for a decision` : "", s.note && `“${s.note}”`,
    s.closed_at && `closed ${shortTime(s.closed_at)} by ${who(s.closed_by)}`].filter(Boolean).join(" · "));
  $("count-review-link").href = countHref(s.id);
  $("count-review-link").hidden = !["open", "review"].includes(s.status);
  $("count-close").hidden = s.status !== "open";
  const lines = s.lines.filter((l) => l.status !== "to_count");
  lines.sort((a, b) => (b.status === "needs_approval") - (a.status === "needs_approval") || Math.abs(b.variance_minor || 0) - Math.abs(a.variance_minor || 0));
  $("count-review-lines").replaceChildren(...(lines.length ? lines.map(reviewLine)
    : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "Nothing counted yet."))]));
}

async function openSession(id) {
  $("count-review-error").hidden = true;
  $("count-review-result").hidden = true;
  try {
    renderSession(await api(`/api/v1/counts/${encodeURIComponent(id)}`));
    $("review-card").scrollIntoView({ block: "start" });
  } catch (err) {
    $("review-card").hidden = false;
    setText($("count-review-error"), err.message);
    $("count-review-error").hidden = false;
  }
}

async function act(button, path, done) {
  $("count-review-error").hidden = true;
  button.disabled = true;
  try {
    const s = await api(path, { method: "POST", body: {} });
    renderSession(s);
    setText($("count-review-result"), done(s));
    $("count-review-result").hidden = false;
    loadSessions();
  } catch (err) {
    setText($("count-review-error"), err.message);
    $("count-review-error").hidden = false;
    button.disabled = false;
  }
}

function decide(button, line, action) {
  const words = { approve: `Approved ${line.name}: ${signed(line.variance)} posted to stock.`,
    recount: `${line.name} goes back to the counters for a recount.`, reject: `Rejected ${line.name}: stock stays as it was.` };
  return act(button, `/api/v1/counts/${current.id}/lines/${encodeURIComponent(line.sku)}/${action}`, () => words[action]);
}

function closeSession(event) {
  return act(event.currentTarget, `/api/v1/counts/${current.id}/close`, (s) => (s.status === "review"
    ? `Posted what was within the limits; ${s.summary.waiting} line(s) wait for your decision below.`
    : "Closed: every variance is posted."));
}

// -- opening a count ----------------------------------------------------------------------------------

function scopeFields() {
  const kind = $("c-kind").value;
  $("c-scope-field").hidden = !["aisle", "category"].includes(kind);
  setText($("c-scope-label"), kind === "aisle" ? "Aisle" : "Category");
  $("c-items-field").hidden = kind !== "items";
}

function renderChosen() {
  $("c-items").replaceChildren(...chosen.map((c, i) => el("li", { class: "chip", "data-testid": "count-new-chosen", dataset: { sku: c.sku } },
    c.name, el("button", { type: "button", class: "btn btn-quiet", "aria-label": `Remove ${c.name}`,
      onclick: () => { chosen.splice(i, 1); renderChosen(); } }, "×"))));
}

async function openCount(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await submitting(form, async (f) => {
    const body = { location: f.location.value, scope_kind: f.scope_kind.value, blind: f.blind.checked, note: f.note.value.trim() };
    if (["aisle", "category"].includes(body.scope_kind)) body.scope = f.scope.value.trim();
    if (body.scope_kind === "items") {
      if (!chosen.length) throw new ApiError("Add the items to count: scan or search them into the box.", { field: "items" });
      body.scope = chosen.map((c) => c.sku);
    }
    const s = await api("/api/v1/counts", { method: "POST", body });
    showResult(form, `Count #${s.id} is open: ${s.summary.to_count} items to count. `,
      el("a", { href: countHref(s.id), "data-testid": "count-new-open" }, "Open the counting page"));
    chosen.length = 0;
    renderChosen();
    f.note.value = "";
    history.replaceState(null, "", `/stock?view=counts&session=${s.id}`);
    renderSession(s);
    loadSessions();
  });
}

export function openCounts(sessionId) {
  clearErrors($("count-new-form"));
  loadDaily();
  loadSessions();
  if (sessionId) openSession(sessionId);
  else $("review-card").hidden = true;
}

export function wireCounts() {
  $("c-kind").addEventListener("change", scopeFields);
  $("c-item").addEventListener("item-picked", (e) => {
    if (!chosen.some((c) => c.sku === e.detail.sku)) chosen.push({ sku: e.detail.sku, name: e.detail.name });
    renderChosen();
  });
  $("count-new-form").addEventListener("submit", openCount);
  $("count-close").addEventListener("click", closeSession);
  $("counts-reload").addEventListener("click", () => openCounts(current?.id));
  scopeFields();
}
