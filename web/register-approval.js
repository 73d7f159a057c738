// Manager approval on the cashier's tablet: a manager picks their name and types their PIN; the hub
// answers with a single-use token, valid a minute, for this action with exactly these details.
//
//   const token = await askManagerApproval("discount", { amount_minor: 500, sale_id });
//   if (token) send the request with approval: token (the hub checks it with hub.approvals.require_approval)
//
// Resolves null when the cashier cancels. details must be what the request that spends it sends.
import { api, el, formatMoney } from "/static/common.js";
import { pinPad, tablet } from "./register-signin.js";
import { registerId, state } from "./register-state.js";

const ACTIONS = {
  discount: "a discount", price_override: "a price change", post_void: "voiding a completed sale",
  return_without_receipt: "a return without a receipt", no_sale: "opening the drawer", refund: "a refund",
  paid_out: "cash paid out of the drawer",
};

function describe(action, details) {
  const what = ACTIONS[action] || action.replaceAll("_", " ");
  const money = Object.entries(details).filter(([k, v]) => k.endsWith("_minor") && Number.isSafeInteger(v))
    .map(([k, v]) => `${k.replace(/_minor$/, "").replaceAll("_", " ")} ${formatMoney(v, state.currency)}`);
  return money.length ? `${what}: ${money.join(", ")}` : what;
}

async function managers() {
  const people = tablet.info?.people
    || (await api("/api/v1/tablet", { noLoginRedirect: true }).catch(() => null))?.people || [];
  return people.filter((p) => ["manager", "owner"].includes(p.role));
}

export function askManagerApproval(action, details = {}) {
  return new Promise((resolve) => {
    const backdrop = el("div", { class: "sheet-backdrop approval-backdrop", "data-testid": "approval-sheet" });
    const body = el("div", { class: "approval-body" }, el("p", { class: "muted" }, "Finding the managers…"));
    const close = (token) => {
      backdrop.remove();
      resolve(token);
    };
    const cancel = el("button", { type: "button", class: "btn", "data-testid": "approval-cancel",
      onclick: () => close(null) }, "Cancel");
    backdrop.append(el("section", { class: "sheet", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "approval-title", onkeydown: (e) => { if (e.key === "Escape") close(null); } },
    el("h2", { id: "approval-title" }, "Manager approval"),
    el("p", { class: "approval-what" }, `Needed for ${describe(action, details)}.`),
    body, cancel));
    document.body.append(backdrop);

    const askPin = (approver) => {
      const pad = pinPad({
        submitLabel: "Approve",
        minDigits: 6, // a manager's or owner's PIN
        onSubmit: async (pin) => {
          const answer = await api(`/api/v1/registers/${encodeURIComponent(registerId)}/approvals`,
            { method: "POST", body: { action, approver, pin, details }, noLoginRedirect: true });
          close(answer.token);
        },
      });
      body.replaceChildren(el("p", {}, `${approver}, enter your PIN to approve.`), pad.node);
      pad.focus();
    };

    managers().then((list) => {
      if (!list.length) {
        body.replaceChildren(el("p", { class: "notice notice-warn" },
          "No manager has a PIN yet. The owner sets PINs on the status page (Registers)."));
        return;
      }
      body.replaceChildren(el("div", { class: "people-pick", role: "group", "aria-label": "Managers" },
        ...list.map((p) => el("button", { type: "button", class: "btn person", disabled: p.locked,
          "data-person": p.username, onclick: () => askPin(p.username) },
        el("strong", {}, p.username), el("span", { class: "muted" }, p.locked ? "locked" : p.role)))));
      if (list.length === 1 && !list[0].locked) askPin(list[0].username);
    });
  });
}
