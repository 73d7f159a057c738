// The status page's cloud sync details, under the Cloud sync card: the link's state in plain words,
// what is acknowledged and how fast, the outbox's disk quota, dead letters with replay (owner), and
// the inbound feed from the back office with "Pull now" (manager). status.js passes each status
// push on as a backroom:status event; lists are fetched only when their counts change.
import { api, el, formatTime, getSession, sentence, setText, timeAgo } from "/static/common.js";

const $ = (id) => document.getElementById(id);
let role = "";
let last = null;
let skewMs = 0;
let deadKey = null; // the dead-letter count last fetched
let refusedKey = null;
let busy = false;

const hubNow = () => Date.now() + skewMs;

/** The state's reason, in words a shop owner acts on; the receiver's own words go in the detail. */
export function plainReason(sync) {
  const r = sync.reason || "";
  if (sync.state === "online") return "The cloud link is up.";
  if (!sync.since) return "Nothing has been sent to the cloud yet.";
  if (/^cannot reach|internal error/.test(r)) return "The hub can't reach the cloud: the internet link or the receiver is down.";
  if (/no answer from the back office/.test(r)) return "The back office doesn't answer over the MQTT bridge.";
  if (/answered 401|answered 403/.test(r)) return "The cloud refuses the hub's signature: check cloud.secret with the back office.";
  if (/answered 404/.test(r)) return "The cloud address is wrong: check cloud.url.";
  if (/answered 409/.test(r)) return "The cloud holds other events under this hub's numbers (a reused hub id or an old backup): sending has stopped until someone resolves it.";
  if (/answered 429|answered 503/.test(r)) return "The cloud asked the hub to slow down; it will send again shortly.";
  if (/answered 5\d\d/.test(r)) return "The cloud has a fault on its side; the hub keeps retrying.";
  if (/refuses each event/.test(r)) return "The cloud refuses every event: the fault is on its side, not in the events.";
  return sync.state === "degraded" ? "The cloud answers, but something needs attention." : "The cloud link is down.";
}

const STATE_LOOK = { online: ["Online", "badge-ok"], offline: ["Offline", "badge-bad"], degraded: ["Degraded", "badge-warn"] };

function quotaWarning(quota) {
  if (quota.level >= 100) return "The outbox is full: telemetry is being dropped (sales and stock never are). Restore the cloud link.";
  if (quota.level >= 90) return "The outbox is over 90 % of its disk quota: restore the cloud link soon.";
  if (quota.level >= 70) return "The outbox is over 70 % of its disk quota: the cloud link is down or slow.";
  return "";
}

function skeleton(root) {
  root.replaceChildren(
    el("p", { class: "sync-state", "data-testid": "sync-state", role: "status" },
      el("span", { class: "badge badge-off", id: "sync-state-badge" }, "–"), " ",
      el("span", { id: "sync-state-text" }), " ", el("span", { class: "muted", id: "sync-state-detail" })),
    el("p", { class: "notice notice-warn", id: "sync-quota-warning", "data-testid": "sync-quota-warning", hidden: true }),
    el("dl", { class: "facts" },
      el("dt", {}, "Acknowledged up to"), el("dd", { id: "sync-acked", "data-testid": "sync-acked" }, "–"),
      el("dt", {}, "Throughput"), el("dd", { id: "sync-throughput", "data-testid": "sync-throughput" }, "–"),
      el("dt", {}, "Outbox disk"), el("dd", {}, el("span", { id: "sync-quota", "data-testid": "sync-quota" }, "–"),
        el("div", { class: "meter" }, el("span", { id: "sync-quota-meter", style: "width:0" }))),
      el("dt", {}, "Telemetry dropped"), el("dd", { id: "sync-dropped", "data-testid": "sync-dropped" }, "–")),
    el("section", { class: "sync-sub", "data-testid": "dead-letters" },
      el("h3", {}, "Dead letters ", el("span", { class: "muted", id: "dead-count" })),
      el("p", { class: "muted", id: "dead-empty" }, "None: the cloud has taken every event."),
      el("ul", { class: "plain-list dead-list", id: "dead-list" }),
      el("p", { class: "muted", id: "dead-result", role: "status" }),
      el("button", { class: "btn", type: "button", id: "dead-replay-all", "data-testid": "replay-all", hidden: true,
        onclick: () => replay(null) }, "Replay all")),
    el("section", { class: "sync-sub", "data-testid": "inbound" },
      el("h3", {}, "From the back office"),
      el("dl", { class: "facts" },
        el("dt", {}, "Last pull"), el("dd", { id: "in-last-pull", "data-testid": "inbound-last-pull" }, "–"),
        el("dt", { id: "in-error-label", hidden: true }, "Last error"),
        el("dd", { id: "in-error", class: "error", "data-testid": "inbound-error", hidden: true }),
        el("dt", {}, "Waiting for the back office"), el("dd", { id: "in-requests", "data-testid": "inbound-requests" }, "–"),
        el("dt", {}, "Refused changes"), el("dd", { id: "in-refused-count", "data-testid": "inbound-refused-count" }, "–")),
      el("ul", { class: "plain-list", id: "in-refused", "data-testid": "inbound-refused" }),
      el("p", { class: "scan-line" },
        el("button", { class: "btn", type: "button", id: "pull-now", "data-testid": "pull-now", hidden: true, onclick: pullNow },
          "Pull now"), " ", el("span", { class: "muted", id: "pull-result", role: "status" }))),
  );
}

function renderState(sync) {
  const badge = $("sync-state-badge");
  const look = sync.enabled ? STATE_LOOK[sync.state] || ["–", "badge-off"] : ["Off", "badge-off"];
  setText(badge, look[0]);
  badge.className = `badge ${look[1]}`;
  badge.parentElement.dataset.state = sync.enabled ? sync.state : "off";
  let text = "Forwarding is off: no cloud URL in the hub's config.";
  if (sync.enabled) {
    text = plainReason(sync);
    if (sync.state !== "online" && sync.since) text = `Since ${formatTime(sync.since)} (${timeAgo(sync.since, hubNow())}). ${text}`;
  }
  setText($("sync-state-text"), text);
  setText($("sync-state-detail"), sync.state !== "online" && sync.reason ? sentence(sync.reason) : "");
}

function renderFacts(sync) {
  setText($("sync-acked"), `#${sync.acked_seq} of #${sync.last_seq}`);
  setText($("sync-throughput"), sync.throughput_eps ? `${sync.throughput_eps} events/s (last minute)` : "idle");
  const q = sync.quota || {};
  setText($("sync-quota"), q.limit_mb ? `${q.used_mb} MB of ${q.limit_mb} MB (${q.percent} %)` : `${q.used_mb ?? 0} MB, no quota`);
  const bar = $("sync-quota-meter");
  bar.style.width = `${Math.min(100, q.percent || 0)}%`;
  bar.parentElement.classList.toggle("high", (q.level || 0) >= 90);
  const warning = quotaWarning(q);
  const box = $("sync-quota-warning");
  box.hidden = !warning;
  box.className = `notice ${(q.level || 0) >= 90 ? "notice-bad" : "notice-warn"}`;
  box.dataset.level = String(q.level || 0);
  setText(box, warning);
  setText($("sync-dropped"), sync.dropped ? `${sync.dropped} (oldest first, to stay within the quota)` : "none");
}

async function loadDeadLetters(count) {
  deadKey = count;
  let letters = [];
  if (count) {
    try {
      letters = (await api("/api/v1/sync/dead-letters")).dead_letters;
    } catch (err) {
      setText($("dead-result"), sentence(err.message));
      return;
    }
  }
  setText($("dead-count"), count ? `(${count})` : "");
  $("dead-empty").hidden = count > 0;
  $("dead-replay-all").hidden = role !== "owner" || !letters.some((d) => !d.replay);
  $("dead-list").replaceChildren(...letters.map((d) => el("li", { class: "dead-letter", "data-testid": "dead-letter", dataset: { seq: String(d.seq) } },
    el("strong", {}, `#${d.seq} ${d.type}`), " ", el("span", { class: "muted" }, formatTime(d.at)),
    el("div", {}, sentence(d.detail || "refused")),
    d.answer ? el("details", {}, el("summary", {}, "The receiver's answer"), el("pre", { class: "mono" }, d.answer)) : null,
    d.replay
      ? el("div", { class: "muted", "data-testid": "dead-replaying" }, `Sent again by ${d.replay_by || "the owner"}; waiting for the cloud`)
      : role === "owner" ? el("button", { class: "btn", type: "button", "data-testid": "replay", onclick: () => replay([d.seq]) }, "Replay") : null)));
}

async function replay(seqs) {
  const what = seqs ? `event #${seqs[0]}` : "every dead letter";
  if (busy || !confirm(`Send ${what} to the cloud again? Do this after the cause is fixed, or it will be refused again.`)) return;
  busy = true;
  try {
    const { replayed } = await api("/api/v1/sync/dead-letters/replay", { method: "POST", body: seqs ? { seqs } : { all: true } });
    setText($("dead-result"), `${replayed} event${replayed === 1 ? "" : "s"} sent back to the cloud queue.`);
    await loadDeadLetters(last?.dead_letters ?? 0);
  } catch (err) {
    setText($("dead-result"), sentence(err.message));
  } finally {
    busy = false;
  }
}

async function loadRefused(count) {
  refusedKey = count;
  if (!count) {
    $("in-refused").replaceChildren();
    return;
  }
  try {
    const { changes } = await api("/api/v1/sync/inbound?outcome=refused&limit=20");
    $("in-refused").replaceChildren(...changes.map((c) => el("li", { "data-testid": "refused-change" },
      el("strong", {}, `${c.type}${c.sku ? ` ${c.sku}` : ""}`), " ", el("span", { class: "muted" }, `${c.change_id} · ${formatTime(c.at)}`),
      el("div", {}, sentence(c.detail || "refused")))));
  } catch (err) {
    setText($("pull-result"), sentence(err.message));
  }
}

async function pullNow() {
  try {
    await api("/api/v1/sync/pull", { method: "POST" });
    setText($("pull-result"), "Pulling now…");
  } catch (err) {
    setText($("pull-result"), sentence(err.message));
  }
}

function renderInbound(inbound) {
  const on = Boolean(inbound?.enabled);
  $("pull-now").hidden = !on || !["manager", "owner"].includes(role);
  if (!on) {
    setText($("in-last-pull"), "off: no back-office feed (cloud.changes_url) in the hub's config");
    return;
  }
  const pull = $("in-last-pull");
  setText(pull, inbound.last_pull_at ? timeAgo(inbound.last_pull_at, hubNow()) : "never");
  pull.title = formatTime(inbound.last_pull_at);
  const failing = inbound.last_error && (!inbound.last_success_at || inbound.last_error_at > inbound.last_success_at);
  $("in-error").hidden = !failing;
  $("in-error-label").hidden = !failing;
  if (failing) setText($("in-error"), sentence(inbound.last_error));
  setText($("in-requests"), inbound.back_office_requests ? `${inbound.back_office_requests} change request(s)` : "none");
  setText($("in-refused-count"), String(inbound.refused || 0));
  if ((inbound.refused || 0) !== refusedKey) loadRefused(inbound.refused || 0);
}

function render(sync) {
  last = sync;
  renderState(sync);
  renderFacts(sync);
  if (sync.dead_letters !== deadKey) loadDeadLetters(sync.dead_letters);
  renderInbound(sync.inbound);
}

async function start() {
  const root = $("sync-more");
  if (!root) return;
  skeleton(root);
  addEventListener("backroom:status", (e) => {
    const status = e.detail;
    const now = Date.parse(status.now);
    if (!Number.isNaN(now)) skewMs = now - Date.now();
    if (status.sync) render(status.sync);
  });
  setInterval(() => { if (last) { renderState(last); renderFacts(last); } }, 1000);
  try {
    role = (await getSession()).role || "";
  } catch {
    role = "";
  }
  if (last) { // the buttons depend on the role: draw the lists again now it is known
    deadKey = null;
    render(last);
  }
}

start();
