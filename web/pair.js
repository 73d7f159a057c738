// Pairing a tablet as a register: the code from the status page (typed, or in the QR code's
// ?code=), then an unpaired register or a new one; the hub answers with an HTTP-only cookie.
import { el } from "/static/common.js";
import { post } from "/static/register-signin.js";

const $ = (id) => document.getElementById(id);
let code = "";

function say(text, kind = "bad") {
  const box = $("pair-message");
  box.textContent = text;
  box.className = `notice notice-${kind}`;
  box.hidden = !text;
}

async function check(event) {
  event?.preventDefault();
  code = $("pair-code").value.replace(/\D/g, "");
  if (code.length !== 6) {
    say("The pairing code has 6 digits.");
    return;
  }
  say("Checking the code…", "ok");
  try {
    const { registers } = await post("/api/v1/pairing/check", { code });
    say("");
    const choices = $("register-choices");
    choices.replaceChildren(...registers.map((r) => el("button", {
      type: "button", class: "btn pair-register", disabled: r.paired, dataset: { register: r.id },
      onclick: () => pair({ register_id: r.id }),
    }, el("strong", {}, r.name), r.paired ? el("span", { class: "muted" }, "has a tablet")
      : r.name !== r.id ? el("span", { class: "mono" }, r.id) : null)));
    $("choose").hidden = false;
    $("code-form").hidden = true;
    (choices.querySelector("button:not([disabled])") || $("register-name")).focus();
  } catch (err) {
    say(err.message);
    $("pair-code").select();
  }
}

async function pair(which) {
  say("Pairing…", "ok");
  for (const b of document.querySelectorAll("#choose button")) b.disabled = true;
  try {
    const answer = await post("/api/v1/pairing", { code, ...which });
    say(`This tablet is now register ${answer.register_id}.`, "ok");
    location.replace(answer.next);
  } catch (err) {
    say(err.message);
    if (err.code === "bad_code" || err.status === 429) {
      $("choose").hidden = true;
      $("code-form").hidden = false;
      $("pair-code").value = "";
      $("pair-code").focus();
    } else {
      for (const b of document.querySelectorAll("#choose button")) b.disabled = b.classList.contains("pair-register") && b.querySelector(".muted") !== null;
    }
  }
}

$("code-form").addEventListener("submit", check);
$("pair-code").addEventListener("input", (e) => {
  if (e.target.value.replace(/\D/g, "").length === 6) check();
});
$("new-register").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("register-name").value.trim();
  if (!name) {
    say("Type a name for the new register, or pick one above.");
    return;
  }
  pair({ register_name: name });
});
// a tablet sent here because it was unpaired says so (its cookie is HTTP-only: ask the hub)
fetch("/api/v1/tablet", { credentials: "same-origin", cache: "no-store" }).then((r) => r.json()).then((t) => {
  if (t?.error?.code === "unpaired" && !$("pair-message").textContent) {
    say("This tablet is no longer a register: the owner unpaired it. Enter a new pairing code to pair it again.", "warn");
  }
}).catch(() => {});
const given = new URLSearchParams(location.search).get("code");
if (given) {
  $("pair-code").value = given;
  history.replaceState(null, "", "/pair"); // the code stays out of the history once used
  check();
}
