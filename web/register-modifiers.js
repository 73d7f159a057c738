// A line's modifiers (extra shot, gift wrap, no sauce), picked in the line's adjust sheet from the groups
// the item master gives the item. The hub checks the choice (required groups, most choices) and prices it.
import { api, el, formatMoney } from "/static/common.js";
import { offlineModifierGroups } from "./register-catalog.js";
import { state } from "./register-state.js";

let groups = null; // every modifier group with its options, asked once per page

async function groupsFor(sku) {
  let item;
  try {
    item = await api(`/api/v1/items/${encodeURIComponent(sku)}`, { noLoginRedirect: true });
  } catch (err) {
    if (err.status === 0) return offlineModifierGroups(sku); // the hub is out of reach: the tablet's catalog
    throw err;
  }
  if (!item.modifier_groups?.length) return [];
  groups ??= (await api("/api/v1/modifier-groups", { noLoginRedirect: true })).modifier_groups;
  return item.modifier_groups.map((id) => groups.find((g) => g.id === id)).filter(Boolean);
}

/** {node, read}: read() -> the chosen option ids, or null while the groups are not known (keep the line's). */
export function modifierPicker(line) {
  const node = el("div", { class: "modifier-groups", "data-testid": "modifier-groups", hidden: true });
  let loaded = false;
  const chosen = new Set(line.modifiers || []);
  groupsFor(line.sku).then((list) => {
    loaded = true;
    node.replaceChildren(...list.map((g) => {
      const row = el("div", { class: "choices", role: "group", "aria-label": g.name });
      for (const o of g.options) {
        const delta = o.delta_minor ? ` ${o.delta_minor > 0 ? "+" : ""}${formatMoney(o.delta_minor, state.currency)}` : "";
        row.append(el("button", { type: "button", class: "btn", dataset: { option: o.id },
          "aria-pressed": String(chosen.has(o.id)), onclick: (e) => {
            const on = e.currentTarget.getAttribute("aria-pressed") !== "true";
            if (on && g.max_choices === 1) for (const b of row.children) b.setAttribute("aria-pressed", "false");
            e.currentTarget.setAttribute("aria-pressed", String(on));
          } }, `${o.name}${delta}`));
      }
      return el("div", { class: "adjust-row" }, el("span", { class: "label" }, `${g.name}${g.required ? " *" : ""}`), row);
    }));
    node.hidden = !list.length;
  }, () => {}); // refused, or no catalog on this tablet: the line keeps the modifiers it has
  const read = () => (loaded ? [...node.querySelectorAll('[aria-pressed="true"]')].map((b) => b.dataset.option) : null);
  return { node, read };
}
