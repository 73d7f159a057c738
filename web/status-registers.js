// The status page's "Registers" panel: pair a tablet (a code and its QR code, shown large), the
// paired tablets with unpair, and people with their PINs (set, reset, unlock) and a way to add one.
import { api, el, formatTime, getSession, timeAgo } from "/static/common.js";

const REFRESH_MS = 10000;
const ROLES = ["cashier", "manager", "owner"];
let owner = false;
let countdown = null;

const panel = el("section", { class: "card registers-panel", id: "registers-panel", "aria-labelledby": "registers-title",
  "data-testid": "registers-panel" });
const message = el("p", { class: "result", role: "status", "data-testid": "registers-message" });
const pairing = el("div", { class: "pairing", "data-testid": "pairing", hidden: true });
const tabletList = el("ul", { class: "plain-list", "data-testid": "tablets" });
const peopleList = el("ul", { class: "plain-list", "data-testid": "people" });

function say(text, bad = false) {
  message.textContent = text;
  message.classList.toggle("bad", bad);
}

async function act(work, done) {
  try {
    await work();
    if (done) say(done);
    await refresh();
  } catch (err) {
    say(err.message, true);
  }
}

async function newCode() {
  try {
    const c = await api("/api/v1/pairing/codes", { method: "POST", body: {} });
    const img = el("img", { class: "pair-qr", alt: `QR code for ${c.url}`, "data-testid": "pair-qr",
      src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(c.qr_svg)}` });
    const left = el("span", { class: "muted" });
    const ends = Date.now() + c.ttl_s * 1000;
    clearInterval(countdown);
    const tick = () => {
      const s = Math.max(0, Math.round((ends - Date.now()) / 1000));
      left.textContent = s ? `valid for ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} more, once`
        : "expired: make a new code";
      if (!s) clearInterval(countdown);
    };
    tick();
    countdown = setInterval(tick, 1000);
    pairing.replaceChildren(img, el("div", { class: "pair-steps" },
      el("p", {}, "On the tablet, scan the QR code or open:"),
      ...c.urls.map((u) => el("p", { class: "mono" }, u)),
      el("p", {}, "and enter the code"),
      el("strong", { class: "pair-code-shown", "data-testid": "pair-code-shown" }, c.code), left));
    pairing.hidden = false;
    say("");
  } catch (err) {
    say(err.message, true);
  }
}

function renderTablets(tablets) {
  tabletList.replaceChildren(...(tablets.length ? tablets.map((t) => el("li", { class: "tablet-row",
    "data-tablet": t.id, "data-register": t.register_id },
  el("div", {}, el("strong", {}, t.register_name), " ", el("span", { class: "mono muted" }, t.register_id),
    el("div", { class: "muted" }, `paired ${timeAgo(t.paired_at)} by ${t.paired_by.replace(/^(user|token):/, "")} · `
      + `last seen ${timeAgo(t.last_seen)}`),
    el("div", { class: "muted ua", title: t.user_agent }, t.user_agent || "unknown browser")),
  owner ? el("button", { type: "button", class: "btn btn-danger", "data-testid": "unpair", onclick: () => {
    if (confirm(`Unpair the tablet of register ${t.register_name}? It stops working as a register at once.`)) {
      act(() => api(`/api/v1/tablets/${t.id}/unpair`, { method: "POST", body: {} }), `Unpaired ${t.register_name}.`);
    }
  } }, "Unpair") : null))
    : [el("li", { class: "muted" }, "No tablet is paired yet.")]));
}

function pinForm(person) {
  const input = el("input", { class: "input pin-input", inputmode: "numeric", maxlength: "8", pattern: "[0-9]*",
    autocomplete: "off", placeholder: person.role === "cashier" ? "4-8 digits" : "6-8 digits", "aria-label": `New PIN for ${person.username}`, type: "password" });
  const form = el("form", { class: "inline-form", "data-testid": "set-pin" }, input,
    el("button", { class: "btn", type: "submit" }, person.has_pin ? "Reset PIN" : "Set PIN"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(() => api(`/api/v1/people/${encodeURIComponent(person.username)}/pin`,
      { method: "POST", body: { pin: input.value } }), `${person.username}'s PIN is set.`);
  });
  return form;
}

function renderPeople(people) {
  peopleList.replaceChildren(...people.map((p) => el("li", { class: "person-row", "data-person": p.username },
    el("div", {}, el("strong", {}, p.username), " ", el("span", { class: "muted" }, p.role), " ",
      p.locked_until ? el("span", { class: "badge badge-bad" }, `locked until ${formatTime(p.locked_until)}`)
        : el("span", { class: `badge ${p.has_pin ? "badge-ok" : "badge-off"}` }, p.has_pin ? "PIN set" : "no PIN")),
    el("div", { class: "person-actions" },
      p.locked_until ? el("button", { type: "button", class: "btn", "data-testid": "unlock", onclick: () => act(
        () => api(`/api/v1/people/${encodeURIComponent(p.username)}/unlock`, { method: "POST", body: {} }),
        `${p.username} is unlocked.`) }, "Unlock") : null,
      owner ? pinForm(p) : null))));
}

function addForm() {
  const form = el("form", { class: "inline-form add-person", "data-testid": "add-person", autocomplete: "off" },
    el("label", {}, "Name ", el("input", { class: "input", name: "username", required: true, maxlength: "40" })),
    el("label", {}, "Role ", el("select", { class: "input", name: "role" },
      ...ROLES.map((r) => el("option", { value: r }, r)))),
    el("label", {}, "PIN ", el("input", { class: "input pin-input", name: "pin", inputmode: "numeric", type: "password",
      maxlength: "8", placeholder: "4-8 digits" })),
    el("button", { class: "btn btn-primary", type: "submit" }, "Add person"));
  // a manager's or owner's PIN also opens approvals: it needs more digits
  form.elements.role.addEventListener("change", () => {
    form.elements.pin.placeholder = form.elements.role.value === "cashier" ? "4-8 digits" : "6-8 digits";
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = form.elements;
    act(async () => {
      await api("/api/v1/people", { method: "POST", body: { username: f.username.value.trim(), role: f.role.value,
        pin: f.pin.value } });
      form.reset();
    }, "Added.");
  });
  return form;
}

async function refresh() {
  const [tablets, people] = await Promise.all([api("/api/v1/tablets"), api("/api/v1/people")]);
  renderTablets(tablets.tablets);
  renderPeople(people.people);
}

async function start() {
  const me = await getSession().catch(() => null);
  if (!me || !["manager", "owner"].includes(me.role)) return;
  owner = me.role === "owner";
  panel.append(
    el("header", {}, el("h2", { id: "registers-title" }, "Registers"),
      owner ? el("button", { type: "button", class: "btn btn-primary", "data-testid": "pair-register",
        onclick: newCode }, "Pair a register") : null),
    message, pairing,
    el("h3", {}, "Paired tablets"), tabletList,
    el("h3", {}, "People at the till"), peopleList, owner ? addForm() : null);
  const anchor = document.querySelector(".register-nav") || document.querySelector("main")?.firstElementChild;
  anchor?.after(panel);
  await refresh().catch((err) => say(err.message, true));
  setInterval(() => { // not while someone types a PIN or a name here
    if (!(panel.contains(document.activeElement) && document.activeElement.matches("input, select"))) {
      refresh().catch(() => {});
    }
  }, REFRESH_MS);
}

start();
