// The status page's devices section: devices grouped by kind, each with its state, last event,
// errors and register, and the owner's actions (rename, bind, forget, test). Cards are kept and
// updated in place on every push, so a half-typed name or an open register list survives it.
import { api, el, formatDuration, formatQtyUnit, formatTime, sentence, setText, timeAgo } from "/static/common.js";

const DEMO_CODE = "0490000010015";
const ANSWER_WAIT_MS = 30000; // a test job with no result by then: say so rather than wait forever
const GROUPS = [
  ["scanner", "Scanners"], ["scale", "Scales"], ["receipt_printer", "Receipt printers"],
  ["label_printer", "Label printers"], ["keyboard", "Keyboards"], ["tablet", "Tablets"], ["other", "Other devices"],
];
const ICONS = {
  scanner: '<path d="M3 6v12M6 6v12M9 6v12M12 6v12M15 6v12M18 6v12M21 6v12" stroke-width="1.6"/>',
  scale: '<path d="M4 18h16M6 18l1.5-8h9L18 18M12 10V6M9 6h6"/>',
  receipt_printer: '<path d="M7 9V3h10v6M6 17H4v-7h16v7h-2M7 14h10v7H7z"/>',
  label_printer: '<path d="M4 7h16v10H4zM8 11h8M8 14h5"/>',
  keyboard: '<rect x="2" y="6" width="20" height="12" rx="2"/><path d="M6 10h.01M10 10h.01M14 10h.01M18 10h.01M7 14h10"/>',
  tablet: '<rect x="5" y="3" width="14" height="18" rx="2"/><path d="M11 18h2"/>',
  other: '<circle cx="12" cy="12" r="8"/><path d="M12 8v5M12 16h.01"/>',
};
// what each test action says when it worked
const DONE = { test_page: "Test page printed.", drawer: "Drawer opened.", tare: "Tared.", zero: "Zeroed.",
  input_role: "Done: the device took its new role." };
const PRINTER_FLAGS = [["paper_out", "Paper out", "badge-bad"], ["cover_open", "Cover open", "badge-bad"],
  ["paper_low", "Paper low", "badge-warn"]];

const groupOf = (kind) => (GROUPS.some(([k]) => k === kind) ? kind : "other");

function icon(kind) {
  const span = el("span", { class: "kind-icon", "aria-hidden": "true" });
  span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${ICONS[kind] || ICONS.other}</svg>`;
  return span;
}

/** The devices section. root holds the groups; hubNow() is the hub's clock; role the viewer's. */
export function deviceSection({ root, summary, empty, notice, hubNow, role }) {
  const cards = new Map(); // device id -> card state
  const groups = new Map(); // kind -> {section, list}
  const pending = new Map(); // job id -> card, until its result arrives
  const early = new Map(); // results that came on the stream before the POST answered
  let registers = [];

  function group(kind) {
    let g = groups.get(kind);
    if (!g) {
      const label = GROUPS.find(([k]) => k === kind)[1];
      const list = el("div", { class: "device-list" });
      const section = el("section", { class: "device-group", dataset: { kind }, "data-testid": "device-group" },
        el("h3", {}, label), list);
      g = { section, list };
      groups.set(kind, g);
    }
    return g;
  }

  function show(card, text, bad = false) {
    card.result.className = `result${bad ? " bad" : ""}`;
    setText(card.result, text);
  }

  function settle(card, job) {
    if (job.action === "scan") {
      show(card, job.ok ? `Scanned ${job.code}: it shows on register ${job.register_id}` +
        (job.listeners ? "." : " (no register page is open there).") : sentence(job.error), !job.ok);
    } else {
      show(card, job.ok ? DONE[job.action] || "Done." : sentence(job.error || "It failed without saying why"), !job.ok);
    }
  }

  async function act(card, label, run, said = null) {
    show(card, `${label}…`);
    try {
      const job = await run();
      if (said) {
        show(card, said(job));
      } else if (job && job.status === "sent") {
        const got = early.get(job.job_id);
        if (got) {
          settle(card, got);
        } else {
          pending.set(job.job_id, card);
          show(card, "Sent; waiting for the device to answer…");
          setTimeout(() => {
            if (pending.delete(job.job_id)) show(card, "No answer from the device yet: check that it is on and connected.", true);
          }, ANSWER_WAIT_MS);
        }
      } else if (job && job.action) {
        settle(card, job);
      }
    } catch (err) {
      show(card, err.message, true);
    }
  }

  const test = (card, action, extra = {}) => act(card, "Sending", () =>
    api(`/api/v1/devices/${encodeURIComponent(card.id)}/test`, { method: "POST", body: { action, ...extra } }));
  const patch = (card, body) => api(`/api/v1/devices/${encodeURIComponent(card.id)}`, { method: "PATCH", body });

  function renameForm(card) {
    const input = el("input", { class: "input", type: "text", maxlength: "60", value: card.device.name,
      "aria-label": "New name", "data-testid": "device-name-input" });
    const close = () => { card.editing = false; form.replaceWith(card.title); };
    const form = el("form", { class: "rename", onsubmit: async (event) => {
      event.preventDefault();
      try {
        card.device = await patch(card, { name: input.value.trim() || null });
        show(card, "Renamed.");
        close();
        update(card, card.device);
      } catch (err) {
        show(card, err.message, true);
      }
    } }, input, el("button", { class: "btn btn-primary", type: "submit", "data-testid": "device-name-save" }, "Save"),
    el("button", { class: "btn btn-quiet", type: "button", onclick: close }, "Cancel"));
    card.editing = true;
    card.title.replaceWith(form);
    input.focus();
    input.select();
  }

  function registerSelect(card) {
    return el("select", { class: "input", "aria-label": "Register", "data-testid": "device-register",
      onchange: async (event) => {
        const value = event.target.value || null;
        try {
          card.device = await patch(card, { register_id: value });
          show(card, value ? `Bound to register ${value}.` : "Bound to no register: its events go nowhere.");
        } catch (err) {
          show(card, err.message, true);
        }
      } });
  }

  function scanForm(card) {
    const input = el("input", { class: "input", type: "text", value: DEMO_CODE, autocomplete: "off", spellcheck: "false",
      "aria-label": `Code for ${card.device.name} to scan`, "data-testid": "scan-code-input" });
    return el("form", { class: "scan-form", onsubmit: (event) => {
      event.preventDefault();
      const data = input.value.trim();
      if (!data) return;
      act(card, "Scanning", () => api(`/api/v1/devices/${encodeURIComponent(card.id)}/simulate-scan`,
        { method: "POST", body: { data } }), () => (card.device.register_id
        ? `Scanned: it shows on register ${card.device.register_id}.` : "Scanned, but this scanner is bound to no register."));
    } }, el("span", { class: "muted" }, "Simulated: scan"), input,
    el("button", { class: "btn", type: "submit", "data-testid": "scan-code-button" }, "Scan"));
  }

  function actions(card, d) {
    const out = [];
    const button = (label, testid, onclick, cls = "btn") => el("button", { class: cls, type: "button", "data-testid": testid, onclick }, label);
    if (d.kind === "receipt_printer" || d.kind === "label_printer") out.push(button("Print a test page", "test-page", () => test(card, "test_page")));
    if (d.kind === "receipt_printer") out.push(button("Open the drawer", "open-drawer", () => test(card, "drawer")));
    if (d.kind === "scale") {
      out.push(button("Tare", "tare", () => test(card, "tare")), button("Zero", "zero", () => test(card, "zero")));
    }
    if (d.kind === "scanner") out.push(button("Send a test scan", "test-scan", () => test(card, "scan")));
    const caps = d.capabilities || [];
    const setRole = (r) => act(card, "Saving", () => patch(card, { role: r }),
      () => `Saved: the hub tells it to act as a ${r}, now and whenever it announces itself otherwise.`);
    if (d.kind === "keyboard" || caps.includes("use_as_scanner")) {
      out.push(button("This is a scanner", "use-as-scanner", () => setRole("scanner")));
    } else if (d.kind === "scanner" && caps.includes("use_as_keyboard")) {
      out.push(button("This is a keyboard", "use-as-keyboard", () => setRole("keyboard")));
    }
    out.push(button("Rename", "rename", () => renameForm(card), "btn btn-quiet"));
    if (role === "owner") {
      out.push(button("Forget", "forget", () => forget(card), "btn btn-danger"));
    }
    return out;
  }

  async function forget(card) {
    const name = card.device.name || card.id;
    if (!confirm(`Forget ${name}? The hub removes it from this list and from the broker. `
      + "If it is still connected, it comes back the next time the hub starts.")) return;
    try {
      await api(`/api/v1/devices/${encodeURIComponent(card.id)}`, { method: "DELETE" });
      notice.hidden = false;
      setText(notice, `Forgot ${name}. If it is still plugged in or on the network, it appears again when the hub restarts.`);
      remove(card.id);
    } catch (err) {
      show(card, err.message, true);
    }
  }

  function create(d) {
    const card = { id: d.id, device: d, editing: false, key: {} };
    card.title = el("div", { class: "device-title" }, el("strong", { "data-testid": "device-name" }), el("span", { class: "sub" }));
    card.state = el("span", { class: "badge", "data-testid": "device-state" });
    card.since = el("span", { class: "muted since" });
    card.facts = el("dl", { class: "device-facts" });
    card.flags = el("div", { class: "flags" });
    card.errors = el("ul", { class: "device-errors", "data-testid": "device-errors" });
    card.register = registerSelect(card);
    card.buttons = el("div", { class: "device-actions" });
    card.result = el("p", { class: "result", role: "status", "data-testid": "device-result" });
    card.sim = null;
    card.node = el("article", { class: "device", "data-testid": "device-row", dataset: { deviceId: d.id } },
      el("header", {}, icon(groupOf(d.kind)), card.title, el("span", { class: "state" }, card.state, card.since)),
      card.flags, card.facts, card.errors,
      el("div", { class: "device-controls" }, el("label", { class: "bind" }, el("span", { class: "muted" }, "Register"), card.register),
        card.buttons), card.result);
    return card;
  }

  function fact(label, value, testid) {
    return [el("dt", {}, label), el("dd", testid ? { "data-testid": testid } : {}, value)];
  }

  function update(card, d) {
    card.device = d;
    const { node } = card;
    node.dataset.online = String(Boolean(d.online));
    node.dataset.kind = d.kind;
    node.classList.toggle("offline", !d.online);
    setText(card.title.firstChild, d.name || d.id);
    const sub = [d.manufacturer, d.model, d.sw_version && `v${d.sw_version}`, d.connection].filter(Boolean).join(" · ");
    setText(card.title.lastChild, d.name !== d.announced_name ? `${sub} · calls itself “${d.announced_name}”` : sub);
    setText(card.state, d.online ? "Online" : "Offline");
    card.state.className = `badge ${d.online ? "badge-ok" : "badge-bad"}`;
    const since = d.state_since || d.last_seen;
    setText(card.since, since ? `for ${formatDuration((hubNow() - Date.parse(since)) / 1000)}` : "");
    card.since.title = `since ${formatTime(since)}`;

    const facts = [...fact("ID", d.id), ...fact("Last event", d.last_event
      ? `${d.last_event} ${timeAgo(d.last_event_at, hubNow())}` : "none yet", "device-last-event"),
    ...fact("Last seen", timeAgo(d.last_seen, hubNow()))];
    if (d.kind === "scale") {
      const w = d.weight;
      facts.push(...fact("Weight", w ? `${formatQtyUnit(w.grams, "g")}${w.stable ? "" : " (moving)"}`
        + (w.tare_g ? ` · tare ${formatQtyUnit(w.tare_g, "g")}` : "") + (w.status !== "ok" ? ` · ${w.status.replace("_", " ")}` : "")
        : "no reading", "device-weight"));
    }
    if (d.role_override) facts.push(...fact("Role", `acts as a ${d.role_override}`));
    const factKey = facts.map((n) => n.textContent).join("|");
    if (card.key.facts !== factKey) {
      card.key.facts = factKey;
      card.facts.replaceChildren(...facts);
    }
    const status = (d.state || {}).status || {};
    const flags = PRINTER_FLAGS.filter(([k]) => status[k]).map(([, label, cls]) => el("span", { class: `badge ${cls}` }, label));
    if (status.online === false && d.online) flags.push(el("span", { class: "badge badge-bad" }, "Printer not answering"));
    const flagKey = flags.map((f) => f.textContent).join("|");
    if (card.key.flags !== flagKey) {
      card.key.flags = flagKey;
      card.flags.replaceChildren(...flags);
    }
    const errors = (d.errors || []).slice(0, 3);
    const errorKey = JSON.stringify(errors) + Math.floor(hubNow() / 10000);
    if (card.key.errors !== errorKey) {
      card.key.errors = errorKey;
      card.errors.replaceChildren(...errors.map((e) => el("li", { title: `${e.source} · ${formatTime(e.at)}` },
        sentence(e.message), " ", el("span", { class: "when" }, timeAgo(e.at, hubNow())))));
    }
    const regKey = JSON.stringify([registers, d.register_id]);
    if (card.key.register !== regKey && document.activeElement !== card.register) {
      card.key.register = regKey;
      card.register.replaceChildren(el("option", { value: "" }, "No register"),
        ...registers.map((r) => el("option", { value: r.id }, r.name && r.name !== r.id ? `${r.name} (${r.id})` : r.id)));
      card.register.value = d.register_id || "";
    }
    const actionKey = [d.kind, ...(d.capabilities || [])].join("|");
    if (card.key.actions !== actionKey) {
      card.key.actions = actionKey;
      card.buttons.replaceChildren(...actions(card, d));
    }
    const simulated = (d.capabilities || []).includes("simulate");
    if (simulated && !card.sim) card.node.insertBefore(card.sim = scanForm(card), card.result);
    if (!simulated && card.sim) {
      card.sim.remove();
      card.sim = null;
    }
  }

  function remove(id) {
    cards.get(id)?.node.remove();
    cards.delete(id);
    for (const [kind, g] of groups) {
      if (!g.list.children.length) {
        g.section.remove();
        groups.delete(kind);
      }
    }
  }

  return {
    render(devices, regs) {
      registers = regs;
      const ids = new Set(devices.map((d) => d.id));
      for (const id of [...cards.keys()]) if (!ids.has(id)) remove(id);
      for (const d of devices) {
        let card = cards.get(d.id);
        if (card && card.node.parentElement !== group(groupOf(d.kind)).list) {
          remove(d.id); // its kind changed (a keyboard now acting as a scanner): move it
          card = null;
        }
        if (!card) {
          card = create(d);
          cards.set(d.id, card);
        }
        update(card, d);
        const { list } = group(groupOf(d.kind));
        if (card.node.parentElement !== list) list.append(card.node);
      }
      const wanted = GROUPS.map(([k]) => groups.get(k)?.section).filter((s) => s && s.querySelector(".device"));
      const current = [...root.children];
      if (current.length !== wanted.length || current.some((n, i) => n !== wanted[i])) root.replaceChildren(...wanted);
      empty.hidden = devices.length > 0;
      const online = devices.filter((d) => d.online).length;
      setText(summary, devices.length ? `${online} of ${devices.length} online` : "");
    },
    /** A test job's result from the status stream (event device_job). */
    jobResult(job) {
      const card = pending.get(job.job_id);
      if (!card) {
        early.set(job.job_id, job);
        if (early.size > 50) early.delete(early.keys().next().value);
        return;
      }
      pending.delete(job.job_id);
      settle(card, job);
    },
  };
}
