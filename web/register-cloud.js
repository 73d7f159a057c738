// The cloud banner: while the hub can't reach the back office, the cashier sees a calm note that
// sales are safe on the hub. It never blocks anything. The hub pushes the cloud link's state on the
// register's stream ("cloud" events, passed on by register-stream.js as backroom:cloud).
import { setText } from "/static/common.js";

const MESSAGES = {
  offline: "The cloud link is down",
  degraded: "The cloud link needs the owner's attention",
};

/** "10:42" today, "27 Nov 10:42" on another day, in the tablet's own time. */
export function clockTime(iso, now = new Date()) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === now.toDateString()) return time;
  return `${at.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export function renderCloud(cloud) {
  const box = document.getElementById("cloud-banner");
  if (!box) return;
  // a hub that has never sent anything has no "since": nothing has failed yet, so nothing to say
  const down = cloud && MESSAGES[cloud.state] && cloud.since;
  box.hidden = !down;
  box.dataset.state = cloud?.state || "unknown";
  if (!down) return;
  const since = clockTime(cloud.since);
  setText(box, `${MESSAGES[cloud.state]}${since ? ` since ${since}` : ""}; sales are kept safely on the hub.`);
}

addEventListener("backroom:cloud", (e) => renderCloud(e.detail));
