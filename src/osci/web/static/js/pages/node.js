// /node/<name>: one node (label, provider, capabilities, state and why, what it runs, how to reach
// it when held) and its latest events, newest first; read again every few seconds.
import { ApiError, getJSON, seg } from "../api.js";
import { h, link, message, replace, section, table } from "../dom.js";
import { exactTime } from "../format.js";
import { buildHref, pageHead } from "../history.js";
import { buildLinks, capabilities, detail, labelText, poll, stateBadge } from "../nodes.js";

export async function render(root, ctx) {
  const { name } = ctx.params;
  const title = h("span", {}, h("span", { class: "muted" }, "Node "), h("span", { "data-testid": "node-name" }, name));
  const updated = h("span", { class: "muted", "data-testid": "node-updated" });
  const notice = h("p", { class: "message error", "data-testid": "node-error", hidden: true });
  const banners = h("div", {});
  const fields = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const events = h("div", {});
  const fieldsCard = section("Node", fields);
  fieldsCard.dataset.testid = "node-fields";
  const eventsCard = section("Events (newest first)", events);
  eventsCard.dataset.testid = "node-events";
  replace(
    root,
    pageHead(title, h("span", {}, link("/nodes", "All nodes"), " ", updated)),
    notice,
    banners,
    fieldsCard,
    eventsCard,
  );

  let shown = null;
  let stopped = false;
  const load = async () => {
    let node;
    let grid;
    try {
      [node, grid] = await Promise.all([
        getJSON(`nodes/${seg(name)}`),
        getJSON("nodes").catch(() => null), // for the halted labels: the page works without them
      ]);
    } catch (error) {
      if (stopped) return;
      const gone = error instanceof ApiError && error.status === 404;
      notice.textContent = gone ? `No node ${name} (any more).` : `Could not read the node: ${error.message || error}`;
      notice.hidden = false;
      if (shown === null) {
        replace(fields, message(gone ? "Not found." : "No data.", "empty"));
        eventsCard.hidden = true;
      }
      return;
    }
    if (stopped) return;
    notice.hidden = true;
    eventsCard.hidden = false;
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    const halted = grid && grid.halted && typeof grid.halted === "object" ? grid.halted : {};
    const key = JSON.stringify([node, halted]);
    if (key === shown) return;
    shown = key;
    replace(title, h("span", { class: "muted" }, "Node "), h("span", { "data-testid": "node-name" }, String(node.name ?? name)), " ", stateBadge(node.state));
    replace(banners, nodeBanners(node, halted));
    replace(fields, fieldList(node));
    replace(events, eventsTable(node.events));
  };
  const polling = poll(load);
  await polling.first;
  return () => {
    stopped = true;
    polling.stop();
  };
}

function nodeBanners(node, halted) {
  const out = [];
  const label = node.label === null || node.label === undefined ? null : String(node.label);
  if (label !== null && Object.prototype.hasOwnProperty.call(halted, label)) {
    out.push(
      h(
        "div",
        { class: "message error halted", "data-testid": "halted-label", "data-label": label },
        h("strong", {}, "Dispatching halted for label "),
        h("code", {}, label),
        h("strong", {}, ": "),
        String(halted[label] || "no reason given"),
        h("div", { class: "halted-hint" }, "Resume it with ", h("code", {}, `osci node resume ${label}`)),
      ),
    );
  }
  if (node.state === "held") {
    out.push(
      h(
        "div",
        { class: "message held", "data-testid": "held-info" },
        h("strong", {}, "Held for debugging"),
        node.detail ? [": ", String(node.detail)] : null,
        node.address ? h("div", {}, "Reach it with ", h("code", { "data-testid": "held-address" }, String(node.address))) : null,
        h("div", { class: "halted-hint" }, "Give it back with ", h("code", {}, `osci node release ${node.name}`)),
      ),
    );
  }
  return out;
}

function fieldList(node) {
  const rows = [
    ["Name", String(node.name ?? "–")],
    ["Label", labelText(node.label)],
    ["Provider", String(node.provider ?? "–")],
    ["State", stateBadge(node.state)],
    ["Why", detail(node)],
    ["Capabilities", capabilities(node.capabilities)],
    ["Slots used", `${Number(node.used) || 0} of ${Number(node.slots) || 0}`],
    ["Builds", buildLinks(node.builds)],
    ["Address", node.address ? h("code", {}, String(node.address)) : "–"],
    ["Infrastructure errors in a row", String(Number(node.failures) || 0)],
  ];
  return h(
    "dl",
    { class: "kv" },
    rows.map(([key, value]) => [h("dt", {}, key), h("dd", { "data-field": key.toLowerCase() }, value)]),
  );
}

/** "build <uuid>" in an event's detail becomes a link to the build; everything else stays text. */
function eventDetail(text) {
  const value = String(text ?? "");
  if (!value) return h("span", { class: "muted" }, "–");
  const found = /^(.*\bbuild )([0-9a-f][0-9a-f-]{7,})(.*)$/s.exec(value);
  if (!found) return value;
  return h("span", {}, found[1], link(buildHref(found[2]), h("span", { class: "mono" }, found[2])), found[3]);
}

function eventsTable(list) {
  const events = (Array.isArray(list) ? list : []).filter((event) => event && typeof event === "object");
  if (!events.length) return message("No events recorded for this node.", "empty");
  // The API gives them newest first; sorted again so the page does not depend on it.
  const sorted = events
    .map((event, index) => ({ event, index, at: Date.parse(event.time) }))
    .sort((a, b) => (Number.isNaN(a.at) || Number.isNaN(b.at) || a.at === b.at ? a.index - b.index : b.at - a.at))
    .map(({ event }) => event);
  const rows = sorted.map((event) =>
    h(
      "tr",
      { "data-testid": "node-event", "data-type": String(event.type ?? "") },
      h("td", { class: "col-time" }, exactTime(event.time)),
      h("td", {}, h("code", {}, String(event.type ?? "–"))),
      h("td", { class: "event-detail" }, eventDetail(event.detail)),
    ),
  );
  return table(["Time", "Event", "Detail"], rows, { "data-testid": "events-table" });
}
