// Feedback the moment a cashier acts (issue 7 §6: visible within 100 ms, never waiting for the hub):
// every button shows it was tapped as the tap lands; a button whose action waits for the hub stays
// busy until the answer; a typed or wedge-scanned code shows a "looking up…" line at once, gone when
// its line is added or its error shown.
//
// Any button is kept busy (data-waiting) while the requests its tap started are in flight: fetch is
// wrapped, and a request started while the tap is being handled (its handler and the promises it
// chains before the next task) belongs to that button, so no module has to remember. An action that
// says what it does, or stays busy longer than its first request, marks the button itself:
//
//   const done = busy(button, "Parking…");   // in the click handler, before any await
//   try { await api(...) } finally { done() }
import { el } from "/static/common.js";
import { $ } from "./register-state.js";

export const FEEDBACK = {
  tapMs: 350, // how long a tapped button keeps its ring: long enough to be seen on a quick tap
};

/** Mark a button busy while its action waits for the hub: a moving bar, aria-busy, and optionally a
 * label saying what it does. Returns done(), which puts the button back as it was. */
export function busy(button, label = "") {
  if (!button) return () => {};
  const before = label ? button.textContent : null;
  button.classList.add("busy");
  button.setAttribute("aria-busy", "true");
  if (label) button.textContent = label;
  return () => {
    button.classList.remove("busy");
    button.removeAttribute("aria-busy");
    if (label && button.textContent === label) button.textContent = before;
  };
}

/** A short ring on a button as it is pressed (by a tap, a key on a focused button, or a shortcut). */
export function flash(button) {
  if (!button || button.disabled) return;
  clearTimeout(button.tapTimer);
  button.classList.add("tapped");
  button.tapTimer = setTimeout(() => button.classList.remove("tapped"), FEEDBACK.tapMs);
}

function pendingList() {
  let list = $("scan-pending");
  if (!list) {
    // its own list below the cart's lines: re-drawing the cart never takes a placeholder away early
    list = el("ul", { id: "scan-pending", class: "scan-pending-list", "data-testid": "scan-pending-list",
      "aria-live": "polite" });
    $("cart-lines").after(list);
  }
  return list;
}

/** A code on its way to the hub (or the tablet's catalog): a placeholder line now; call the answer to remove it. */
export function lookingUp(code) {
  const line = el("li", { class: "scan-pending", "data-testid": "scan-pending", "aria-busy": "true" },
    el("span", { class: "name" }, "Looking up "), el("span", { class: "mono" }, `${code}…`));
  pendingList().append(line);
  return () => line.remove();
}

let tapped = null; // the button whose tap is being handled: requests started meanwhile keep it busy

function waiting(button, delta) {
  const n = Number(button.dataset.waiting || 0) + delta;
  if (n > 0) button.dataset.waiting = String(n);
  else delete button.dataset.waiting;
}

const hubFetch = window.fetch.bind(window);
window.fetch = (...args) => {
  const button = tapped;
  const answer = hubFetch(...args);
  if (button) {
    waiting(button, 1);
    const settled = () => waiting(button, -1);
    answer.then(settled, settled);
  }
  return answer;
};

// capture: before the button's own handler runs, so the ring is there even if that handler waits
document.addEventListener("click", (e) => {
  const button = e.target.closest?.("button, .btn") || null;
  flash(button);
  tapped = button;
  setTimeout(() => { if (tapped === button) tapped = null; }); // the next task: the tap is handled
}, true);
