// The counting page (/count/<id>) for a tablet or a handheld: scans go into one big box, each
// adds one (a case code its pack), the last item and its running count show in big type. Every
// change is queued and sent in order; when the hub can't be reached it stays queued on screen
// (and in this browser) and is sent again, so a dead spot in the aisle loses no scan.
import { api, el, getSession, newId, setText, signOut } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const SESSION_ID = Number(location.pathname.split("/")[2]);
const QUEUE_KEY = `backroom.count.${SESSION_ID}.queue`;
const RETRY_MS = [1000, 2000, 5000, 10000, 20000]; // then every 20 s until it goes through
const PHOTO_EDGE = 1600; // px: a shelf photo stays readable and well under the hub's 1 MB limit
const STATUS = { open: ["Counting", "badge-ok"], review: ["Waiting for approval", "badge-warn"], closed: ["Closed", "badge-off"],
  cancelled: ["Cancelled", "badge-off"] };
const LINE = { needs_approval: "waits for a manager", recount: "count again", approved: "approved",
  rejected: "rejected", posted: "posted" };

let me = null;
let places = {}; // location id -> its name
let session = null; // as the hub last sent it; its lines are kept up to date from each answer
let current = ""; // the SKU the correction, note and photo apply to
let queue = []; // [{id, body, label, state, error, uncertain}] sent one at a time, in order
let sending = false;
let attempts = 0;
let retryTimer = 0;

const lineOf = (sku) => session?.lines.find((l) => l.sku === sku);
const blind = () => session?.blind !== false; // until the session is known, show nothing of the ledger
const expected = (line) => line.ledger_qty ?? line.on_hand;

// -- what the page shows -----------------------------------------------------------------------------

function renderSession() {
  const s = session;
  document.title = `Count #${s.id} · Backroom`;
  setText($("count-title"), `Count #${s.id}`);
  const where = s.scope_kind === "location" ? "everything" : ["daily", "items"].includes(s.scope_kind)
    ? `${s.scope.length} items${s.scope_kind === "daily" ? " (today's list)" : ""}` : `${s.scope_kind} ${s.scope}`;
  setText($("count-scope"), `${where} at ${places[s.location] || s.location}${s.blind ? " · blind" : ""}`);
  const [text, kind] = STATUS[s.status] || [s.status, "badge-off"];
  setText($("count-status"), text);
  $("count-status").className = `badge ${kind}`;
  $("count-status").dataset.status = s.status;
  const closed = !["open", "review"].includes(s.status);
  $("scan").disabled = closed;
  if (closed) showError(`This count is ${s.status}: nothing more can be counted in it.`);
  const counted = s.lines.filter((l) => l.counted != null).length;
  setText($("tally"), `${counted} of ${s.lines.length} counted`);
  $("lines").replaceChildren(...s.lines.map(lineRow));
  renderCurrent();
}

function lineRow(line) {
  const waiting = line.status === "recount" || (line.status === "to_count" && line.in_scope);
  return el("li", {
    class: `count-line ${line.sku === current ? "current" : ""} ${waiting ? "waiting" : ""}`, "data-testid": "count-line",
    dataset: { sku: line.sku, status: line.status, counted: line.counted ?? "" }, onclick: () => { current = line.sku; renderSession(); },
  }, el("span", { class: "grow" }, line.name, el("span", { class: "sub mono" }, [line.sku, line.aisle && `aisle ${line.aisle}`].filter(Boolean).join(" · "))),
  !blind() && expected(line) != null ? el("span", { class: "muted", "data-testid": "count-line-expected" }, `of ${expected(line)}`) : "",
  el("strong", { class: "num" }, line.counted == null ? "–" : String(line.counted)),
  LINE[line.status] ? el("span", { class: "muted status" }, LINE[line.status]) : "");
}

function renderCurrent() {
  const line = lineOf(current);
  $("last").hidden = !line;
  if (!line) return;
  $("last").dataset.sku = line.sku;
  setText($("last-name"), line.name);
  setText($("last-sku"), line.sku);
  setText($("last-count"), line.counted == null ? "–" : String(line.counted));
  const box = $("last-expected");
  box.hidden = blind() || expected(line) == null;
  setText(box, box.hidden ? "" : `the stock says ${expected(line)}`);
  if (document.activeElement !== $("fix-note")) $("fix-note").value = line.note || "";
}

function renderQueue() {
  $("queue-panel").hidden = !queue.length;
  const waiting = queue.some((e) => e.state === "waiting");
  setText($("queue-title"), `${queue.length} ${queue.length === 1 ? "change" : "changes"} ${waiting ? "waiting to be sent" : "being sent"}`);
  $("queue-panel").dataset.state = waiting ? "waiting" : "sending";
  $("queue").replaceChildren(...queue.map((e) => el("li", { "data-testid": "count-queued", dataset: { state: e.state } },
    el("span", { class: "mono" }, e.label), " ", el("span", { class: "muted" }, e.state === "waiting" ? `— ${e.error}` : "— sending…"))));
}

function showError(text) {
  setText($("scan-error"), text);
  $("scan-error").hidden = !text;
}

/** The hub's answer for one line: keep it, make it the current item, and say so in big type. */
function applyLine(line) {
  const i = session.lines.findIndex((l) => l.sku === line.sku);
  if (i >= 0) session.lines[i] = line;
  else session.lines.push(line);
  current = line.sku;
  renderSession();
  $("last-count").classList.remove("bump");
  void $("last-count").offsetWidth; // restart the animation for a second scan of the same item
  $("last-count").classList.add("bump");
}

// -- the queue: in order, one at a time, kept until the hub has it -------------------------------

function save() {
  try { // a photo is too big for local storage: it is only kept while the page is open
    localStorage.setItem(QUEUE_KEY, JSON.stringify(queue.filter((e) => !e.body.photo).map(({ id, body, label }) => ({ id, body, label }))));
  } catch {
    // private mode or a full storage: the queue still lives on the screen
  }
}

function enqueue(body, label) {
  queue.push({ id: newId(), body, label, state: "sending", error: "" });
  save();
  renderQueue();
  pump();
}

async function pump() {
  if (sending || !queue.length) return;
  clearTimeout(retryTimer);
  retryTimer = 0;
  const entry = queue[0];
  sending = true;
  entry.state = "sending";
  renderQueue();
  try {
    // Every scan carries its own id: if an earlier try reached the hub, the hub answers again
    // without counting it twice.
    const res = await api(`/api/v1/counts/${SESSION_ID}/lines`, { method: "POST", body: { ...entry.body, id: entry.id } });
    applyLine(res.line);
    queue.shift();
    attempts = 0;
  } catch (err) {
    if (err.uncertain) {
      entry.state = "waiting";
      entry.uncertain = true;
      entry.error = err.message;
      retryTimer = setTimeout(pump, RETRY_MS[Math.min(attempts++, RETRY_MS.length - 1)]);
    } else if (err.status === 401) {
      entry.state = "waiting"; // api() is taking the person to sign in; the queue waits in this browser
      entry.error = err.message;
    } else {
      queue.shift(); // the hub refused it (an unknown code, a closed count): say so, don't send it again
      showError(`${entry.label}: ${err.message}`);
      if (err.status === 409) refresh();
    }
  } finally {
    sending = false;
    save();
    renderQueue();
  }
  if (queue.length && !retryTimer) pump();
}

// -- what the counter does ------------------------------------------------------------------------

function scan(event) {
  event.preventDefault();
  const code = $("scan").value.trim();
  $("scan").value = "";
  $("scan").focus();
  if (!code) return;
  showError(""); // a refusal stays on screen until the next scan
  enqueue({ code, qty: 1, mode: "add" }, code);
}

function needCounted() {
  const line = lineOf(current);
  if (line?.counted != null) return line;
  showError("Scan the item or set its count first.");
  return null;
}

function setCount(event) {
  event.preventDefault();
  const raw = $("fix-qty").value.trim();
  if (!/^\d{1,8}$/.test(raw)) {
    showError(`The count must be a whole number such as 12, not "${raw}".`);
    return $("fix-qty").focus();
  }
  const line = lineOf(current);
  enqueue({ sku: current, qty: Number(raw), mode: "set" }, `${line.name} = ${raw}`);
  $("fix-qty").value = "";
  $("scan").focus();
}

function saveNote() {
  const line = needCounted();
  if (!line) return;
  enqueue({ sku: current, note: $("fix-note").value.trim() }, `note on ${line.name}`);
  $("scan").focus();
}

/** A phone's photo is several MB: scaled down to PHOTO_EDGE and sent as a JPEG data URL. */
async function attachPhoto() {
  const file = $("photo").files[0];
  $("photo").value = "";
  const line = file && needCounted();
  if (!line) return;
  setText($("photo-state"), "Preparing the photo…");
  try {
    const image = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_EDGE / Math.max(image.width, image.height));
    const canvas = el("canvas", { width: Math.round(image.width * scale), height: Math.round(image.height * scale) });
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    enqueue({ sku: current, photo: canvas.toDataURL("image/jpeg", 0.8) }, `photo of ${line.name}`);
    setText($("photo-state"), "Photo queued.");
  } catch {
    setText($("photo-state"), "That file is not a picture this browser can read; take the photo again.");
  }
  $("scan").focus();
}

async function refresh() {
  try {
    session = await api(`/api/v1/counts/${SESSION_ID}`);
    renderSession();
  } catch (err) {
    if (err.status !== 401) showError(err.message);
  }
}

async function start() {
  $("sign-out").addEventListener("click", () => signOut());
  try {
    me = await getSession();
    const [found, where] = await Promise.all([api(`/api/v1/counts/${SESSION_ID}`), api("/api/v1/locations")]);
    session = found;
    places = Object.fromEntries(where.locations.map((l) => [l.id, l.name]));
  } catch (err) {
    if (err.status === 401) return; // api() is already on its way to the sign-in page
    setText($("banner"), err.message);
    $("banner").hidden = false;
    return;
  }
  setText($("signed-in"), `${me.user} (${me.role})`);
  $("review-link").hidden = !["manager", "owner"].includes(me.role);
  $("review-link").href = `/stock?view=counts&session=${SESSION_ID}`;
  renderSession();
  $("scan-form").addEventListener("submit", scan);
  $("fix-form").addEventListener("submit", setCount);
  $("note-save").addEventListener("click", saveNote);
  $("photo").addEventListener("change", attachPhoto);
  $("retry").addEventListener("click", () => { attempts = 0; pump(); });
  addEventListener("online", () => { attempts = 0; pump(); });
  try {
    queue = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]").map((e) => ({ ...e, state: "waiting", error: "not sent yet", uncertain: true }));
  } catch {
    queue = [];
  }
  renderQueue();
  pump();
  $("scan").focus();
  document.body.dataset.role = me.role; // ready: tests wait for it
}

start();
