// The owner's status page: hub health, cloud sync, devices (status-devices.js) and network printers
// (status-printers.js), live from /api/v1/status/stream.
import {
  el, formatBytes, formatDuration, formatTime, getSession, sentence, setText, signOut, timeAgo, toLogin,
} from "/static/common.js";
import { deviceSection } from "/static/status-devices.js";
import { printerPanel } from "/static/status-printers.js";

const STREAM = "/api/v1/status/stream";
const $ = (id) => document.getElementById(id);

let last = null; // the latest status JSON
let skewMs = 0; // hub clock minus this browser's clock, so "5 s ago" is right on a tablet with a wrong clock
let devices = null; // the devices section, once the viewer's role is known

const hubNow = () => Date.now() + skewMs;

// -- cards -----------------------------------------------------------------------------------------

function percent(part, whole) {
  return whole ? Math.round((100 * part) / whole) : 0;
}

function meter(id, pct) {
  const bar = $(id);
  bar.style.width = `${Math.min(100, Math.max(0, pct))}%`;
  bar.parentElement.classList.toggle("high", pct >= 90);
}

function renderHub(hub) {
  setText($("store-name"), hub.name || "Backroom");
  setText($("hub-ident"), `Hub ${hub.id} · version ${hub.version}`);
  document.title = `Status · ${hub.name || "Backroom"}`;
  const mqtt = $("mqtt-badge");
  setText(mqtt, hub.mqtt_connected ? "Broker connected" : "Broker disconnected");
  mqtt.className = `badge ${hub.mqtt_connected ? "badge-ok" : "badge-bad"}`;
  mqtt.title = hub.mqtt_connected ? "The hub talks to its MQTT broker" : "Devices can't reach the hub: check that mosquitto runs";

  setText($("hub-uptime"), formatDuration(hub.uptime_s));
  setText($("system-uptime"), hub.system_uptime_s != null ? `(system up ${formatDuration(hub.system_uptime_s)})` : "");
  const cpu = hub.cpu_percent == null ? "–" : `${Math.round(hub.cpu_percent)} %`;
  const own = hub.process_cpu_percent == null ? "" : ` · hub ${Math.round(hub.process_cpu_percent)} %`;
  const load = hub.load_1m == null ? "" : ` · load ${hub.load_1m.toFixed(2)}`;
  setText($("cpu"), `${cpu}${own}${load}`);

  if (hub.memory_total_bytes) {
    const used = hub.memory_total_bytes - (hub.memory_available_bytes ?? 0);
    const pct = percent(used, hub.memory_total_bytes);
    setText($("memory"), `${formatBytes(used)} of ${formatBytes(hub.memory_total_bytes)} (${pct} %)`
      + (hub.memory_rss_bytes ? ` · hub ${formatBytes(hub.memory_rss_bytes)}` : ""));
    meter("memory-meter", pct);
  } else {
    setText($("memory"), hub.memory_rss_bytes ? `hub ${formatBytes(hub.memory_rss_bytes)}` : "–");
  }
  if (hub.disk_total_bytes) {
    const pct = percent(hub.disk_total_bytes - hub.disk_free_bytes, hub.disk_total_bytes);
    setText($("disk"), `${formatBytes(hub.disk_free_bytes)} free of ${formatBytes(hub.disk_total_bytes)}`);
    meter("disk-meter", pct);
  }
  const temp = $("temperature");
  if (hub.temperature_c == null) {
    setText(temp, "no sensor");
    temp.className = "muted";
  } else {
    const hot = hub.temperature_c >= 80 ? " · too hot: give the Pi air or a fan" : hub.temperature_c >= 70 ? " · warm" : "";
    setText(temp, `${hub.temperature_c.toFixed(1)} °C${hot}`);
    temp.className = hub.temperature_c >= 80 ? "error" : "";
  }
}

function renderSync(sync) {
  const badge = $("sync-badge");
  const failing = sync.last_error && (!sync.last_success_at || sync.last_error_at > sync.last_success_at);
  let look = ["Off", "badge-off"];
  if (sync.enabled) {
    look = failing ? ["Failing", "badge-bad"] : sync.backlog > 0 ? ["Sending", "badge-warn"] : ["Up to date", "badge-ok"];
  }
  setText(badge, look[0]);
  badge.className = `badge ${look[1]}`;
  setText($("sync-url"), sync.enabled ? sync.url : "nowhere: no cloud URL in the hub's config");
  const backlog = $("sync-backlog");
  setText(backlog, sync.backlog === 0 ? "nothing" : `${sync.backlog} event${sync.backlog === 1 ? "" : "s"}`);
  backlog.dataset.count = String(sync.backlog);
  backlog.title = `sent up to #${sync.acked_seq} of #${sync.last_seq}`;
  const now = hubNow();
  setText($("sync-oldest"), sync.oldest_unsent_at ? timeAgo(sync.oldest_unsent_at, now) : "–");
  $("sync-oldest").title = formatTime(sync.oldest_unsent_at);
  const success = $("sync-last-success");
  setText(success, timeAgo(sync.last_success_at, now));
  success.title = formatTime(sync.last_success_at);
  const hasError = Boolean(sync.last_error);
  $("sync-error").hidden = !hasError;
  $("sync-error-label").hidden = !hasError;
  if (hasError) {
    const box = $("sync-error");
    const key = `${sync.last_error}|${sync.last_error_at}`;
    if (box.dataset.key !== key) {
      box.dataset.key = key;
      box.replaceChildren(sentence(sync.last_error), " ", el("span", { class: "when" }));
    }
    setText(box.querySelector(".when"), sync.last_error_at ? timeAgo(sync.last_error_at, now) : "");
    box.title = formatTime(sync.last_error_at);
  }
  let next = "–";
  if (sync.next_try_in_s != null) next = sync.next_try_in_s < 1 ? "now" : `in ${formatDuration(sync.next_try_in_s)}`;
  setText($("sync-next"), next);
}

function renderRegisters(registers) {
  const box = $("register-links");
  const key = JSON.stringify(registers);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(...(registers.length
    ? registers.map((r) => el("a", { class: "btn btn-primary", href: `/register/${encodeURIComponent(r.id)}`, "data-testid": "register-link" },
      r.name && r.name !== r.id ? `${r.name} (${r.id})` : `Register ${r.id}`))
    : [el("span", { class: "muted" }, "No registers yet.")]));
}

function render(status) {
  last = status;
  renderHub(status.hub);
  renderSync(status.sync);
  dispatchEvent(new CustomEvent("backroom:status", { detail: status })); // status-sync.js
  renderRegisters(status.registers || []);
  devices?.render(status.devices || [], status.registers || []);
}

// -- live stream ---------------------------------------------------------------------------------

let source = null;

function setStream(kind, message = "") {
  const badge = $("stream-state");
  badge.dataset.state = kind;
  const looks = { live: ["Live", "badge-ok"], reconnecting: ["Reconnecting…", "badge-warn"],
    failed: ["Not connected", "badge-bad"], connecting: ["Connecting…", "badge-off"] }[kind];
  setText(badge, looks[0]);
  badge.className = `badge ${looks[1]}`;
  const banner = $("banner");
  banner.hidden = kind === "live" || kind === "connecting";
  banner.classList.toggle("banner-bad", kind === "failed");
  setText(banner, message || "Connection to the hub lost, retrying… The figures below are from before.");
}

function connect() {
  source?.close();
  source = new EventSource(STREAM);
  source.onopen = () => setStream("live");
  source.addEventListener("status", (e) => {
    setStream("live");
    try {
      render(JSON.parse(e.data));
    } catch (err) {
      console.error("bad status event", err);
    }
  });
  source.addEventListener("device_job", (e) => {
    try {
      devices?.jobResult(JSON.parse(e.data));
    } catch (err) {
      console.error("bad device_job event", err);
    }
  });
  source.onerror = () => {
    setStream("reconnecting");
    if (source.readyState === EventSource.CLOSED) setTimeout(poll, 3000);
  };
}

/** The stream was refused: find out why with a plain request, then reopen it. */
async function poll() {
  try {
    const res = await fetch("/api/v1/status", { credentials: "same-origin", cache: "no-store" });
    const date = Date.parse(res.headers.get("Date"));
    if (res.ok && !Number.isNaN(date)) skewMs = date - Date.now();
    if (res.status === 401) return toLogin();
    if (res.ok) {
      render(await res.json());
      connect();
      return;
    }
    const body = await res.json().catch(() => null);
    if (res.status === 403) {
      setStream("failed", sentence(body?.error?.message || "Your account may not see the status page"));
      return;
    }
  } catch {
    // the hub is down; try again below
  }
  setTimeout(poll, 5000);
}

async function start() {
  $("sign-out").addEventListener("click", () => signOut());
  try {
    const me = await getSession();
    setText($("signed-in"), `${me.user} (${me.role})`);
    devices = deviceSection({ root: $("device-groups"), summary: $("device-summary"), empty: $("no-devices"),
      notice: $("device-notice"), hubNow, role: me.role });
    if (me.role === "cashier") {
      const register = localStorage.getItem("backroom.lastRegister");
      const box = $("forbidden");
      box.hidden = false;
      box.replaceChildren("The status page is for managers and owners. ",
        register ? el("a", { href: `/register/${encodeURIComponent(register)}` }, `Open register ${register}`) : "Open a register from its link.");
      setStream("failed", "Signed in as a cashier: no hub status to show.");
      return;
    }
    printerPanel($("network-printers"), me.role);
  } catch (err) {
    if (err.status === 401) return; // api() is already on its way to the sign-in page
  }
  devices ??= deviceSection({ root: $("device-groups"), summary: $("device-summary"), empty: $("no-devices"),
    notice: $("device-notice"), hubNow, role: "" });
  await poll(); // first paint, and the hub's clock for "… ago"
  setInterval(() => { if (last) { renderSync(last.sync); devices?.render(last.devices || [], last.registers || []); } }, 1000);
}

start();
