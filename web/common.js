// Shared by every page: API calls, money and time formatting, small DOM helpers.

/** An API failure a person can read: message in plain words, plus the envelope's code and field. */
export class ApiError extends Error {
  constructor(message, { code = "error", field = null, status = 0 } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.field = field;
    this.status = status; // 0 when the hub could not be reached at all
  }

  /** True when the request may have reached the hub and the answer was lost (retry with the same body). */
  get uncertain() {
    return this.status === 0 || this.status >= 500;
  }
}

const NETWORK_MESSAGE = "The hub can't be reached. Check the Wi-Fi, then try again.";
let session = null;

/** The signed-in person {user, role, csrf_token}, fetched once per page. */
export async function getSession({ refresh = false } = {}) {
  if (!session || refresh) session = await api("/api/v1/session");
  return session;
}

/** Send the browser to the sign-in page, coming back here afterwards. */
export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

async function readError(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's HTML page, say): fall through to a generic message
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.message === "string") {
    return new ApiError(sentence(err.message), { code: err.code || "error", field: err.field ?? null, status: res.status });
  }
  return new ApiError(`The hub answered with an error (HTTP ${res.status}). Try again in a moment.`, { status: res.status });
}

/**
 * fetch for the JSON API: same-origin cookie, CSRF header and JSON body on writes, and the
 * error envelope thrown as an ApiError. A 401 sends the person to sign in unless noLoginRedirect.
 * With full, resolves to {data, status, headers} instead of the body alone.
 */
export async function api(path, { method = "GET", body, signal, noLoginRedirect = false, full = false } = {}) {
  const write = !["GET", "HEAD"].includes(method);
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json" };
    if (write) {
      headers["Content-Type"] = "application/json";
      if (path !== "/login") headers["X-CSRF-Token"] = (await getSession()).csrf_token || "";
    }
    let res;
    try {
      res = await fetch(path, {
        method, headers, signal, credentials: "same-origin", cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(NETWORK_MESSAGE, { code: "network" });
    }
    if (res.ok) {
      const data = res.status === 204 ? null : await res.json();
      return full ? { data, status: res.status, headers: res.headers } : data;
    }
    const err = await readError(res);
    // The session was renewed in another tab: fetch the new token and send once more.
    if (err.status === 403 && err.code === "csrf" && attempt === 0) {
      await getSession({ refresh: true });
      continue;
    }
    if (err.status === 401 && !noLoginRedirect && path !== "/login") toLogin();
    throw err;
  }
}

export async function signOut() {
  try {
    await api("/logout", { method: "POST", body: {} });
  } finally {
    session = null;
    location.assign("/login");
  }
}

/** "no item has the code 1" -> "No item has the code 1." */
export function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

// -- money: integers of minor units only ---------------------------------------------------

const SYMBOLS = { EUR: "€", USD: "$", GBP: "£", AUD: "A$", CAD: "C$", NZD: "NZ$", JPY: "¥", INR: "₹" };

/** 123456, "EUR" -> "€1,234.56"; an unknown currency is written after the amount. */
export function formatMoney(minor, currency = "") {
  if (!Number.isSafeInteger(minor)) return "–";
  const sign = minor < 0 ? "−" : "";
  const abs = Math.abs(minor);
  const cents = String(abs % 100).padStart(2, "0");
  const whole = String((abs - (abs % 100)) / 100).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const amount = `${whole}.${cents}`;
  const symbol = SYMBOLS[currency];
  if (symbol) return `${sign}${symbol}${amount}`;
  return currency ? `${sign}${amount} ${currency}` : `${sign}${amount}`;
}

/** What a person typed as an amount ("12", "12.5", "12,50", "€ 12.50") -> minor units, or null. */
export function parseMoney(text) {
  const t = String(text).replace(/[\s€$£¥₹]/g, "").replace(",", ".");
  const m = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(t) || /^\.(\d{1,2})()$/.exec(t);
  if (!m) return null;
  const whole = m[0].startsWith(".") ? 0 : Number(m[1]);
  const frac = m[0].startsWith(".") ? m[1] : m[2] || "";
  return whole * 100 + Number(frac.padEnd(2, "0"));
}

/** minor units -> what goes in an amount input: 1250 -> "12.50". */
export function moneyInputValue(minor) {
  return `${(minor - (minor % 100)) / 100}.${String(minor % 100).padStart(2, "0")}`;
}

const NOTES = [100, 500, 1000, 2000, 5000, 10000];

/** Amounts a cashier is likely handed: the exact total, then the next round notes above it. */
export function quickAmounts(totalMinor, count = 4) {
  const out = [totalMinor];
  for (const step of NOTES) {
    const up = Math.ceil(totalMinor / step) * step;
    if (!out.includes(up)) out.push(up);
    if (out.length >= count) break;
  }
  return out.sort((a, b) => a - b);
}

/** Grams -> "0.452 kg" (millilitres -> "0.250 l"). */
export function formatQtyUnit(qty, unit) {
  const whole = (qty - (qty % 1000)) / 1000;
  const rest = String(qty % 1000).padStart(3, "0");
  return `${whole}.${rest} ${unit === "ml" ? "l" : "kg"}`;
}

// -- time ----------------------------------------------------------------------------------

/** 3725 -> "1 h 2 min"; keeps the two largest parts. */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [size, name] of [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]]) {
    if (s >= size || (size === 1 && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)} ${name}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

/** ISO time -> "5 s ago" / "3 min ago" / "in 10 s", against now (ms, hub clock). */
export function timeAgo(iso, now = Date.now()) {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  const diff = Math.round((now - t) / 1000);
  if (diff < -2) return `in ${formatDuration(-diff)}`;
  if (diff < 2) return "just now";
  return `${formatDuration(diff)} ago`;
}

/** A full local time for a title attribute. */
export function formatTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "" : new Date(t).toLocaleString();
}

export function formatBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

// -- ids and DOM -----------------------------------------------------------------------------

/** A v4 UUID. crypto.randomUUID exists only on https or localhost; a hub on the LAN is plain http. */
export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** el("td", {class: "x", dataset: {sku}}, "text", child) — text is always set as text, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Set text only when it changed, so live pages don't churn the DOM every push. */
export function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

/** In-page views: go(url) shows url's view without a reload; clicks on links marked data-nav use it
 * (a new tab or a modified click still opens a real page). */
export function inPageLinks(route) {
  const go = (url) => {
    history.pushState(null, "", url);
    route();
    scrollTo(0, 0);
  };
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-nav]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(link.getAttribute("href"));
  });
  return go;
}
