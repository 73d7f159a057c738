// Who works this register. On a paired tablet a person signs in with a PIN (tap your name, then the
// PIN pad); "Sign out" and "Switch cashier" bring that screen back; an unpaired tablet says so and
// offers to pair again. A browser signed in with a password works as before.
import { el, sentence } from "/static/common.js";

export const tablet = { info: null, reached: false }; // GET /api/v1/tablet: {tablet, person, people}; reached: it answered
const CHECK_MS = 30000; // how often a signed-in tablet asks whether it is still paired

/** POST without the CSRF header (pairing and PIN sign-in come before any session): the error
 * envelope becomes an Error with status and code. */
export async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
    });
  } catch {
    throw Object.assign(new Error("The hub can't be reached. Check the Wi-Fi, then try again."), { status: 0 });
  }
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const err = data?.error;
  throw Object.assign(new Error(sentence(err?.message || `The hub answered HTTP ${res.status}`)),
    { status: res.status, code: err?.code || "error" });
}

async function readTablet() {
  const res = await fetch("/api/v1/tablet", { credentials: "same-origin", cache: "no-store",
    headers: { Accept: "application/json" } });
  return { status: res.status, data: await res.json().catch(() => null) };
}

function overlay(...children) {
  document.getElementById("signin-sheet")?.remove();
  const sheet = el("div", { id: "signin-sheet", class: "sheet-backdrop signin-backdrop" },
    el("section", { class: "sheet signin", role: "dialog", "aria-modal": "true", "aria-labelledby": "signin-title" },
      ...children));
  document.body.append(sheet);
  return sheet;
}

function showUnpaired() {
  overlay(
    el("h2", { id: "signin-title" }, "This tablet is no longer a register"),
    el("p", { "data-testid": "unpaired" }, "The owner unpaired it on the hub's status page. Ask them for a new pairing "
      + "code to make it a register again."),
    el("a", { class: "btn btn-primary signin-big", href: "/pair" }, "Pair this tablet again"),
  );
}

/** A PIN pad: digits by tap or keyboard, Backspace, Enter. onSubmit(pin) returns a promise; on
 * failure the pad clears and shows the message. A manager's or owner's PIN has 6 digits or more. */
export function pinPad({ onSubmit, submitLabel = "OK", minDigits = 4 }) {
  let pin = "";
  const dots = el("output", { class: "pin-dots", "data-testid": "pin-dots", "aria-live": "polite" });
  const message = el("p", { class: "notice notice-bad", role: "alert", "data-testid": "pin-message", hidden: true });
  const render = () => { dots.textContent = pin ? "●".repeat(pin.length) : "Enter PIN"; };
  const press = (d) => {
    if (pin.length < 8) pin += d;
    message.hidden = true;
    render();
  };
  const submit = async () => {
    if (pin.length < minDigits) {
      message.textContent = `This PIN has ${minDigits} to 8 digits.`;
      message.hidden = false;
      return;
    }
    const tried = pin;
    pin = "";
    dots.textContent = "Checking…"; // at once: the hub's answer can take a moment
    const ok = keys.querySelector("[data-testid=pin-ok]");
    ok.classList.add("busy");
    ok.setAttribute("aria-busy", "true");
    try {
      await onSubmit(tried);
    } catch (err) {
      message.textContent = err.message;
      message.hidden = false;
      render();
    } finally {
      ok.classList.remove("busy");
      ok.removeAttribute("aria-busy");
    }
  };
  const key = (label, action, extra = {}) => el("button", { type: "button", class: "btn pin-key", onclick: action,
    ...extra }, label);
  const keys = el("div", { class: "pin-keys", role: "group", "aria-label": "PIN pad" },
    ..."123456789".split("").map((d) => key(d, () => press(d), { "data-digit": d })),
    key("Clear", () => { pin = ""; render(); }),
    key("0", () => press("0"), { "data-digit": "0" }),
    key(submitLabel, submit, { class: "btn btn-primary pin-key", "data-testid": "pin-ok" }));
  const onKey = (e) => {
    if (/^\d$/.test(e.key)) press(e.key);
    else if (e.key === "Backspace") { pin = pin.slice(0, -1); render(); }
    else if (e.key === "Enter") submit();
    else return;
    e.preventDefault();
    e.stopPropagation(); // a PIN never lands in the item-code box
  };
  render();
  const node = el("div", { class: "pin-pad", tabindex: "-1", onkeydown: onKey }, dots, message, keys);
  return { node, focus: () => node.focus() };
}

function showSignIn(info) {
  const people = info.people;
  const list = el("div", { class: "people-pick", role: "group", "aria-label": "People" },
    ...people.map((p) => el("button", { type: "button", class: "btn person", disabled: p.locked,
      "data-person": p.username, onclick: () => askPin(p) },
    el("strong", {}, p.username), el("span", { class: "muted" }, p.locked ? "locked: ask a manager" : p.role))));
  overlay(
    el("h2", { id: "signin-title" }, `Register ${info.tablet.register_name}: who is working?`),
    people.length ? list : el("p", { class: "notice notice-warn" },
      "Nobody has a PIN yet. The owner sets PINs on the status page (Registers)."),
  );
  list.querySelector("button:not([disabled])")?.focus();
}

function askPin(person) {
  const pad = pinPad({
    submitLabel: "Sign in",
    minDigits: person.role === "cashier" ? 4 : 6,
    onSubmit: async (pin) => {
      await post("/api/v1/tablet/signin", { username: person.username, pin });
      location.reload();
    },
  });
  overlay(
    el("h2", { id: "signin-title" }, `${person.username}, enter your PIN`),
    pad.node,
    el("button", { type: "button", class: "btn", onclick: () => showSignIn(tablet.info) }, "Not you? Back"),
  );
  pad.focus();
}

async function signOutHere(event) {
  event.preventDefault();
  event.stopPropagation(); // instead of the password sign-out, which would go to /login
  const button = event.target.closest("#sign-out");
  button.classList.add("busy");
  button.textContent = "Signing out…";
  try {
    await post("/api/v1/tablet/signout", {});
  } finally {
    location.reload();
  }
}

function wireSignedIn() {
  // signing out on a tablet is switching cashier: the "who is working?" screen comes back
  const signOut = document.getElementById("sign-out");
  if (signOut) Object.assign(signOut, { textContent: "Switch cashier", title: "Sign out; the next person signs in" });
  document.addEventListener("click", (e) => { if (e.target.closest?.("#sign-out")) signOutHere(e); }, true);
  setInterval(async () => {
    try {
      const { status, data } = await readTablet();
      if (status === 401 && data?.error?.code === "unpaired") showUnpaired();
    } catch {
      // out of reach: the register's own connection badge says so
    }
  }, CHECK_MS);
}

/** Resolves true when the register may start: a password session, a signed-in PIN session, or
 * the hub out of reach (the offline register carries on). Otherwise shows what to do instead. */
export async function ensureSignedIn() {
  let answer;
  try {
    answer = await readTablet();
  } catch {
    return true; // register.js asks again once the hub answers (an offline start)
  }
  tablet.reached = true;
  const { status, data } = answer;
  if (status === 401 && data?.error?.code === "not_paired") return true;
  if (status === 401) {
    showUnpaired();
    return false;
  }
  if (status !== 200 || !data) return true;
  tablet.info = data;
  const home = `/register/${encodeURIComponent(data.tablet.register_id)}`;
  if (location.pathname !== home) {
    location.replace(home);
    return false;
  }
  if (!data.person) {
    showSignIn(data);
    return false;
  }
  wireSignedIn();
  import("./register-shift.js").then((m) => m.startShift(data));
  return true;
}
