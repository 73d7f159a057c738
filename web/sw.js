// The register's service worker: the app shell (page, scripts, styles, icons) from a cache, so a
// register opens and reloads with the hub out of reach. The hub serves this file at /sw.js with this
// deploy's shell list and version filled in (hub/snapshot_api.py): a new deploy is a new worker,
// which caches the new shell and drops the old. API answers are never cached: they go to the network.
const VERSION = "__SHELL_VERSION__";
const SHELL = ["__SHELL_FILES__"];
const CACHE = `backroom-shell-${VERSION}`;
const PAGE = "/register-page"; // every /register/<id> is the same page; one cached copy serves them all
const PAGE_TIMEOUT_MS = 4000; // a Wi-Fi that hangs rather than fails: fall back to the cached page

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("backroom-shell-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** The register page, fetched with the tablet's session and kept when the hub answers with it. */
async function freshPage(request) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), PAGE_TIMEOUT_MS);
  try {
    const res = await fetch(request, { signal: ctl.signal });
    const html = (res.headers.get("Content-Type") || "").startsWith("text/html");
    // a redirect to sign-in is passed on, never cached as the register
    if (res.ok && html && !res.redirected) {
      const cache = await caches.open(CACHE);
      await cache.put(PAGE, res.clone());
    }
    return res;
  } finally {
    clearTimeout(timer);
  }
}

async function page(request) {
  try {
    return await freshPage(request);
  } catch {
    const cached = await caches.match(PAGE, { cacheName: CACHE });
    if (cached) return cached;
    return new Response("<!doctype html><title>Register offline</title><h1>The hub can't be reached</h1>"
      + "<p>This tablet has not opened the register while online yet. Check the Wi-Fi, then reload.</p>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  }
}

/** Shell files: this deploy's copy (the version changes with any of them); others from the network. */
async function shellFile(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const res = await fetch(request);
  if (res.ok) await cache.put(request, res.clone());
  return res;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/register/")) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(shellFile(request));
  }
  // everything else (the API, sign-in, events) goes to the network untouched and is never cached
});

// The page that registered this worker asks for itself to be cached: its first load came before
// the worker was in control, so it did not pass through the fetch handler above.
self.addEventListener("message", (event) => {
  if (event.data?.type !== "cache-page") return;
  const url = new URL(event.data.url, self.location.origin);
  if (!url.pathname.startsWith("/register/")) return;
  event.waitUntil(freshPage(new Request(url.href, { credentials: "same-origin" }))
    .then((res) => event.ports[0]?.postMessage({ cached: res.ok && !res.redirected }))
    .catch(() => event.ports[0]?.postMessage({ cached: false })));
});
