// The status page's "Network printers" panel (owners): printers the hub found by zeroconf or by a
// port-9100 scan, the ones the owner added (the devices agent hosts those), and a form to add one.
import { api, el, sentence, setText } from "/static/common.js";

const REFRESH_MS = 10000;
const SCAN_POLL_MS = 1000;
const LANGUAGES = [["escpos", "ESC/POS"], ["zpl", "ZPL (Zebra)"], ["tspl", "TSPL"], ["brother_ql", "Brother QL"]];

/** Wire the panel in root (a card) for an owner; others see why they can't use it. */
export function printerPanel(root, role) {
  const $ = (sel) => root.querySelector(sel);
  const message = $("[data-testid=printers-message]");
  const say = (text, bad = false) => {
    message.className = `result${bad ? " bad" : ""}`;
    setText(message, text);
  };
  if (role !== "owner") {
    $(".printers-body").hidden = true;
    say("Only an owner can add or remove network printers.");
    return;
  }
  const form = $("form.add-printer");
  const language = form.elements.language;
  language.replaceChildren(...LANGUAGES.map(([v, label]) => el("option", { value: v }, label)));
  let polling = null;

  function prefill(host, port, name = "") {
    form.elements.host.value = host;
    form.elements.port.value = String(port || 9100);
    if (name) form.elements.name.value = name;
    form.elements.name.focus();
  }

  function foundRow(p, how) {
    const label = [p.name || p.product, `${p.host}:${p.port}`, how].filter(Boolean).join(" · ");
    return el("li", { "data-testid": "found-printer" }, el("span", {}, label), " ",
      el("button", { class: "btn", type: "button", onclick: () => prefill(p.host, p.port, p.name || p.product || "") }, "Add…"));
  }

  function addedRow(p) {
    return el("li", { "data-testid": "added-printer" },
      el("span", {}, el("strong", {}, p.name), ` · ${p.host}:${p.port} · ${p.kind.replace("_", " ")} · ${p.language}`),
      " ", el("button", { class: "btn btn-danger", type: "button", onclick: async () => {
        if (!confirm(`Remove ${p.name} (${p.host}:${p.port})? The devices agent stops printing to it.`)) return;
        try {
          await api(`/api/v1/printers/${encodeURIComponent(p.id)}`, { method: "DELETE" });
          say(`Removed ${p.name}.`);
          refresh();
        } catch (err) {
          say(err.message, true);
        }
      } }, "Remove"));
  }

  function renderScan(scan) {
    const button = $("[data-testid=printer-scan]");
    const running = scan.state === "running";
    button.disabled = running;
    let text = "";
    if (running) text = `Scanning… ${scan.done} of ${scan.hosts} addresses`;
    else if (scan.state === "finished") text = `Scan done: ${scan.found.length} printer${scan.found.length === 1 ? "" : "s"} answered on port ${scan.port}.`;
    else if (scan.state && scan.state !== "idle") text = `Scan ${scan.state}.`;
    setText($("[data-testid=printer-scan-state]"), text);
    if (running && !polling) polling = setTimeout(pollScan, SCAN_POLL_MS);
  }

  async function pollScan() {
    polling = null;
    try {
      const scan = await api("/api/v1/discovery/scan");
      renderScan(scan);
      if (scan.state !== "running") refresh();
    } catch (err) {
      say(err.message, true);
    }
  }

  async function refresh() {
    let data;
    try {
      data = await api("/api/v1/discovery/printers");
    } catch (err) {
      say(err.status === 404 ? "This hub has no printer discovery yet." : err.message, true);
      return;
    }
    const added = new Set(data.added.map((p) => `${p.host}:${p.port}`));
    const found = [...data.advertised.map((p) => [p, p.service]),
      ...data.scan.found.map((p) => [p, p.escpos ? "speaks ESC/POS" : "port open"])]
      .filter(([p]) => !added.has(`${p.host}:${p.port}`)).map(([p, how]) => foundRow(p, how));
    $("[data-testid=found-printers]").replaceChildren(...(found.length ? found
      : [el("li", { class: "muted" }, data.zeroconf ? "None found yet. Many cheap printers advertise nothing: scan the network." : "None found. Scan the network, or add one by its address.")]));
    $("[data-testid=added-printers]").replaceChildren(...(data.added.length ? data.added.map(addedRow)
      : [el("li", { class: "muted" }, "No network printers added.")]));
    renderScan(data.scan);
  }

  $("[data-testid=printer-scan]").addEventListener("click", async () => {
    try {
      renderScan(await api("/api/v1/discovery/scan", { method: "POST", body: {} }));
      say("");
    } catch (err) {
      say(err.message, true);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = { host: f.host.value.trim(), port: Number(f.port.value || 9100), kind: f.kind.value,
      language: f.language.value, name: f.name.value.trim() || f.host.value.trim() };
    try {
      const p = await api("/api/v1/printers", { method: "POST", body });
      say(sentence(`Added ${p.name}: the devices agent connects to it and it appears under the devices above`));
      form.reset();
      refresh();
    } catch (err) {
      say(err.message, true);
      if (err.field && f[err.field]) f[err.field].focus();
    }
  });

  refresh();
  setInterval(refresh, REFRESH_MS);
}
