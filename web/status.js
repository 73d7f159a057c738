// The owner's status page: hub health, devices, cloud sync, live from /api/v1/status/stream.
import {
  api, el, formatBytes, formatDuration, formatTime, getSession, sentence, setText, signOut, timeAgo, toLogin,
} from "/static/common.js";

const DEMO_CODE = "0490000010015";
const STREAM = "/api/v1/status/stream";
const $ = (id) => document.getElementById(id);

let last = null; // the latest status JSON
let skewMs = 0; // hub clock minus this browser's clock, so "5 s ago" is right on a tablet with a wrong clock
const rows = new Map(); // device id -> {row, cells, sim}

const hubNow = () => Date.now() + skewMs;

// -- icons ---------------------------------------------------------------------------------------

const ICONS = {
  scanner: '<path d="M3 6v12M6 6v12M9 6v12M12 6v12M15 6v12M18 6v12M21 6v12" stroke-width="1.6"/>',
  scale: '<path d="M4 18h16M6 18l1.5-8h9L18 18M12 10V6M9 6h6"/>',
  receipt_printer: '<path d="M7 9V3h10v6M6 17H4v-7h16v7h-2M7 14h10v7H7z"/>',
  label_printer: '<path d="M4 7h16v10H4zM8 11h8M8 14h5"/>',
  tablet: '<rect x="5" y="3" width="14" height="18" rx="2"/><path d="M11 18h2"/>',
  display: '<rect x="3" y="4" width="18" height="12" rx="1"/><path d="M9 20h6M12 16v4"/>',
  drawer: '<path d="M3 9h18v10H3zM3 9l2-4h14l2 4M10 13h4"/>',
  other: '<circle cx="12" cy="12" r="8"/><path d="M12 8v5M12 16h.01"/>',
};
const KIND_LABELS = {
  scanner: "Scanner", scale: "Scale", receipt_printer: "Receipt printer", label_printer: "Label printer",
  tablet: "Tablet", display: "Display", drawer: "Cash drawer",
};

function kindCell(kind) {
  const label = KIND_LABELS[kind] || kind;
  const span = el("span", { class: "kind" });
  span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[kind] || ICONS.other}</svg>`;
  span.append(label);
  return span;
}

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

// -- devices: rows are kept and updated in place, so a half-typed scan code survives each push ---

function scanForm(device) {
  const input = el("input", {
    class: "input", type: "text", value: DEMO_CODE, "aria-label": `Code for ${device.name || device.id} to scan`,
    "data-testid": "scan-code-input", autocomplete: "off", spellcheck: "false",
  });
  const button = el("button", { class: "btn btn-primary", type: "submit", "data-testid": "scan-code-button" }, "Scan");
  const result = el("span", { class: "result", role: "status" });
  let clearTimer = null;
  const form = el("form", {
    class: "scan-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const data = input.value.trim();
      if (!data) return;
      button.disabled = true;
      clearTimeout(clearTimer);
      try {
        await api(`/api/v1/devices/${encodeURIComponent(device.id)}/simulate-scan`, { method: "POST", body: { data } });
        const register = rows.get(device.id)?.registerId;
        result.className = "result";
        setText(result, register ? `Scanned: it shows on register ${register}.` : "Scanned, but this scanner is bound to no register.");
      } catch (err) {
        result.className = "result bad";
        setText(result, err.message);
      } finally {
        button.disabled = false;
        clearTimer = setTimeout(() => setText(result, ""), 8000);
      }
    },
  }, el("strong", {}, "Scan a code"), input, button, result);
  return el("tr", { class: "sim-row" }, el("td", { colspan: "6" }, form));
}

function deviceRow(device) {
  const cells = {
    kind: el("td"), name: el("td"), id: el("td", { class: "mono" }), register: el("td"),
    state: el("td"), seen: el("td", { class: "num seen" }),
  };
  const row = el("tr", { "data-testid": "device-row", dataset: { deviceId: device.id } }, ...Object.values(cells));
  return { row, cells, sim: null, kind: null, registerId: null };
}

function updateRow(entry, d) {
  const { row, cells } = entry;
  if (entry.kind !== d.kind) {
    cells.kind.replaceChildren(kindCell(d.kind));
    entry.kind = d.kind;
  }
  const sub = [d.manufacturer, d.model, d.sw_version && `v${d.sw_version}`, d.connection].filter(Boolean).join(" · ");
  const nameKey = `${d.name}|${sub}`;
  if (cells.name.dataset.key !== nameKey) {
    cells.name.dataset.key = nameKey;
    cells.name.replaceChildren(d.name || d.id, sub ? el("span", { class: "sub" }, sub) : "");
  }
  setText(cells.id, d.id);
  entry.registerId = d.register_id;
  if (cells.register.dataset.key !== String(d.register_id)) {
    cells.register.dataset.key = String(d.register_id);
    cells.register.replaceChildren(d.register_id
      ? el("a", { href: `/register/${encodeURIComponent(d.register_id)}` }, d.register_id)
      : el("span", { class: "muted" }, "none"));
  }
  row.dataset.online = String(Boolean(d.online));
  row.classList.toggle("offline", !d.online);
  if (cells.state.dataset.online !== String(d.online)) {
    cells.state.dataset.online = String(d.online);
    cells.state.replaceChildren(el("span", { class: `badge ${d.online ? "badge-ok" : "badge-bad"}` }, d.online ? "Online" : "Offline"));
  }
  setText(cells.seen, timeAgo(d.last_seen, hubNow()));
  cells.seen.title = `first seen ${formatTime(d.first_seen)}, last seen ${formatTime(d.last_seen)}`;
  const simulated = (d.capabilities || []).includes("simulate");
  if (simulated && !entry.sim) entry.sim = scanForm(d);
  if (!simulated && entry.sim) {
    entry.sim.remove();
    entry.sim = null;
  }
}

function renderDevices(devices) {
  const body = $("devices");
  const ids = new Set(devices.map((d) => d.id));
  for (const [id, entry] of rows) {
    if (!ids.has(id)) {
      entry.row.remove();
      entry.sim?.remove();
      rows.delete(id);
    }
  }
  const wanted = [];
  for (const d of devices) {
    let entry = rows.get(d.id);
    if (!entry) {
      entry = deviceRow(d);
      rows.set(d.id, entry);
    }
    updateRow(entry, d);
    wanted.push(entry.row);
    if (entry.sim) wanted.push(entry.sim);
  }
  // Move rows only when the order changed: moving a row would take focus from its scan box.
  const current = [...body.children];
  if (current.length !== wanted.length || current.some((node, i) => node !== wanted[i])) body.replaceChildren(...wanted);
  $("no-devices").hidden = devices.length > 0;
  const online = devices.filter((d) => d.online).length;
  setText($("device-summary"), devices.length ? `${online} of ${devices.length} online` : "");
}

function render(status) {
  last = status;
  renderHub(status.hub);
  renderSync(status.sync);
  renderRegisters(status.registers || []);
  renderDevices(status.devices || []);
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
    if (me.role === "cashier") {
      const register = localStorage.getItem("backroom.lastRegister");
      const box = $("forbidden");
      box.hidden = false;
      box.replaceChildren("The status page is for managers and owners. ",
        register ? el("a", { href: `/register/${encodeURIComponent(register)}` }, `Open register ${register}`) : "Open a register from its link.");
      setStream("failed", "Signed in as a cashier: no hub status to show.");
      return;
    }
  } catch (err) {
    if (err.status === 401) return; // api() is already on its way to the sign-in page
  }
  await poll(); // first paint, and the hub's clock for "… ago"
  setInterval(() => { if (last) { renderSync(last.sync); renderDevices(last.devices || []); } }, 1000);
}

start();
