// Keyboard shortcuts for paying, on a tablet with a keyboard (the cart's own are in register-discounts.js,
// F2 F3 F4, and register-parked.js, F7 F8). F9 or the numpad's + opens the pay sheet. On the pay sheet,
// which covers the cart (so its keys are free there), the F keys follow the sheet from top to bottom:
//
//   F2 card · F3 gift card · F4 store credit · F7 exact cash · F8 receipt or none · F9 or Enter complete
//   digits (and any typed character) go to the cash box · Esc cancels a tender being entered, then goes back
//
// Each shortcut presses its button (so the button's own rules apply: nothing fires while a sale is being
// saved), and each button shows its key in a corner (data-key; the title says it too). No shortcut fires
// while a text field other than the code box or the cash box has the focus (a gift card code, a
// reference, a discount), nor with Ctrl, Alt or Meta. A wedge scanner is never taken for a shortcut: it
// types no F keys, and what it types goes into the cash box, where register-search.js takes its burst
// to the cart as it does on any field.
import { flash } from "./register-feedback.js";
import { $ } from "./register-state.js";

/** The pay sheet's keys, by what they press. */
export const PAY_KEYS = {
  card: "F2", gift_card: "F3", store_credit: "F4", exact: "F7", receipt: "F8", complete: "F9", pay: "F9",
};

/** Attributes for a button with a shortcut: el("button", { ...keyHint("F2", "Card"), … }). */
export function keyHint(key, what) {
  return { "data-key": key, "aria-keyshortcuts": key, title: `${what} (${key === "+" ? "numpad +" : key})` };
}

const TYPED = /^(text|search|number|tel|email|password|url|)$/;

function textField(node) {
  if (node instanceof HTMLTextAreaElement || node instanceof HTMLSelectElement) return true;
  if (node instanceof HTMLInputElement) return TYPED.test(node.type);
  return Boolean(node?.isContentEditable);
}

/** The sheets open on top of the register (pay, result, returns, approval, adjust, shift, sign-in). */
const openSheets = () => [...document.querySelectorAll(".sheet-backdrop:not([hidden])")];

function press(button) {
  if (!button || button.disabled || button.hidden) return false;
  flash(button);
  button.click();
  return true;
}

const PAY_SHEET = {
  F2: () => $("tenders")?.querySelector("[data-testid=tender-card]"),
  F3: () => $("tenders")?.querySelector("[data-testid=tender-gift_card]"),
  F4: () => $("tenders")?.querySelector("[data-testid=tender-store_credit]"),
  F7: () => $("quick").querySelector("button"),
  F8: () => $("tenders")?.querySelector(".receipt-choice [aria-pressed=false]"),
  F9: () => $("complete-sale"),
};

function onPaySheet(e, focus) {
  const cash = $("tendered-input");
  if (e.key === "Escape" && !$("pay-sheet").contains(focus)) return press($("pay-back"));
  if (textField(focus) && focus !== cash) return false; // a tender's code or amount: typed as text
  if (PAY_SHEET[e.key]) { // taken even when its button is not there (F3 is never the browser's find here)
    press(PAY_SHEET[e.key]());
    return true;
  }
  if (e.key === "Enter" && focus !== cash && !(focus instanceof HTMLButtonElement)) return press($("complete-sale"));
  if (focus !== cash && !cash.disabled && ((e.key.length === 1 && e.key !== " ") || e.key === "Backspace")) {
    // into the cash box, replacing a tapped quick amount; the key itself lands there (not prevented),
    // so a scanner's burst arrives whole in one field and register-search.js takes it to the cart
    cash.focus({ preventScroll: true });
    cash.select();
  }
  return false; // the key goes on to the cash box as typed
}

function onRegister(e, focus) {
  const code = $("code-input");
  if (textField(focus) && focus !== code) return false;
  const numpadPlus = e.code === "NumpadAdd" && !(focus === code && code.value);
  if (e.key === "F9" || numpadPlus) return press($("pay-cash")) || numpadPlus;
  return false;
}

function shortcuts(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const sheets = openSheets();
  const focus = document.activeElement;
  let used = false;
  if (sheets.length === 1 && sheets[0].id === "pay-sheet") used = onPaySheet(e, focus);
  else if (!sheets.length) used = onRegister(e, focus);
  if (used) {
    e.preventDefault();
    e.stopPropagation();
  }
}

function start() {
  for (const [id, key, what] of [["pay-cash", PAY_KEYS.pay, "Pay"], ["complete-sale", PAY_KEYS.complete, "Complete sale"],
    ["pay-back", "Esc", "Back to the sale"]]) {
    for (const [name, value] of Object.entries(keyHint(key, what))) $(id).setAttribute(name, value);
  }
  $("pay-cash").setAttribute("aria-keyshortcuts", "F9 +");
  $("pay-cash").title = "Pay (F9 or numpad +)";
  // capture on window: before register-search.js watches for a scanner's burst on document, so a key
  // routed into the cash box is already there when that watch sees it
  addEventListener("keydown", shortcuts, true);
}

start();
