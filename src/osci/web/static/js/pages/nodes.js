// /nodes: the grid. Per label, how many nodes are in each state and whether its dispatching is
// halted (and why); every node with its state, what it runs and why it is where it is; pending
// autoholds. Read from /api/nodes every few seconds; the filters live in the URL's query.
//
// The API gives no time for a node's last change: it is the time of the node's latest event,
// read from /api/nodes/<name> when the page first sees the node and again when its state or
// detail changes (twice: node events are written in batches, a moment later).
import { getJSON, seg } from "../api.js";
import { h, link, message, replace, section, table } from "../dom.js";
import { exactTime } from "../format.js";
import { pageHead } from "../history.js";
import { buildLinks, capabilities, detail, labelText, nodeHref, poll, stateBadge, STATES } from "../nodes.js";

const LOOKUPS = 200; // at most this many nodes' events read when the page opens (a big grid: "–")
const PARALLEL = 4; // event reads at once

export async function render(root, ctx) {
  const search = h("input", {
    type: "search",
    placeholder: "Filter by name, label, capability or detail",
    "aria-label": "Filter nodes",
    "data-testid": "nodes-filter",
    name: "q",
    size: 34,
    value: ctx.query.get("q") || "",
  });
  const labelSelect = h("select", { "aria-label": "Label", "data-testid": "nodes-label", name: "label" });
  const stateSelect = h(
    "select",
    { "aria-label": "State", "data-testid": "nodes-state", name: "state" },
    h("option", { value: "" }, "any state"),
    STATES.map((state) => h("option", { value: state }, state)),
  );
  setLabels(labelSelect, [], ctx.query.get("label") || ""); // the label from the URL, until the data comes
  stateSelect.value = STATES.includes(ctx.query.get("state")) ? ctx.query.get("state") : "";
  const clearButton = h("button", { type: "button", class: "link-button" }, "Clear");
  const count = h("span", { class: "muted", "data-testid": "node-count" });
  const updated = h("span", { class: "muted", "data-testid": "nodes-updated" });
  const notice = h("p", { class: "message error", "data-testid": "nodes-error", hidden: true });
  const halts = h("div", { "data-testid": "halted-labels" });
  const summary = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const list = h("div", {});
  const holds = h("div", {});
  const summaryCard = section("Labels", summary);
  summaryCard.dataset.testid = "label-summary";
  const holdsCard = section("Pending autoholds", holds);
  holdsCard.dataset.testid = "autoholds";
  holdsCard.hidden = true;
  replace(
    root,
    pageHead("Nodes", updated),
    notice,
    halts,
    summaryCard,
    h("div", { class: "filters" }, search, labelSelect, stateSelect, clearButton, count),
    h("div", { class: "card list-card" }, list),
    holdsCard,
  );

  let doc = null;
  let shown = null; // what the table was drawn from: drawn again only when it changes
  const times = new Map(); // node name -> {sig, checks, time, type}

  const filters = () => ({ q: search.value.trim(), label: labelSelect.value, state: stateSelect.value });
  const draw = (force = false) => {
    if (!doc) return;
    const wanted = filters();
    const key = JSON.stringify([doc, wanted, [...times.values()].map((t) => t.time)]);
    if (!force && key === shown) return;
    shown = key;
    drawSummary(doc, summary, halts, (label) => {
      labelSelect.value = label;
      changed();
    });
    const nodes = doc.nodes;
    const rows = nodes.filter(matcher(wanted));
    count.textContent = nodes.length ? `${rows.length} of ${nodes.length} nodes` : "";
    if (!nodes.length) replace(list, message("No nodes: the server has no node pool yet.", "empty"));
    else if (!rows.length) replace(list, message("No node matches these filters.", "empty"));
    else replace(list, nodesTable(rows, times));
    const autoholds = doc.autoholds;
    holdsCard.hidden = !autoholds.length;
    replace(holds, autoholds.length ? holdsTable(autoholds) : null);
  };
  const changed = () => {
    ctx.setQuery(filters());
    draw();
  };
  search.addEventListener("input", changed);
  labelSelect.addEventListener("change", changed);
  stateSelect.addEventListener("change", changed);
  clearButton.addEventListener("click", () => {
    search.value = "";
    labelSelect.value = "";
    stateSelect.value = "";
    changed();
  });

  let stopped = false;
  const load = async () => {
    let fresh;
    try {
      fresh = normalise(await getJSON("nodes"));
    } catch (error) {
      notice.textContent = `Could not read the nodes: ${error.message || error}`;
      notice.hidden = false;
      if (!doc) replace(summary, message("No data.", "empty"));
      return;
    }
    if (stopped) return;
    notice.hidden = true;
    doc = fresh;
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    setLabels(labelSelect, labelsOf(doc), labelSelect.value);
    draw();
    await learnTimes(doc.nodes, times, () => !stopped);
    if (!stopped) draw();
  };
  const polling = poll(load);
  await polling.first;
  return () => {
    stopped = true;
    polling.stop();
  };
}

/** The API's document with every field the page reads in the expected shape. */
function normalise(raw) {
  const value = raw && typeof raw === "object" ? raw : {};
  const nodes = (Array.isArray(value.nodes) ? value.nodes : []).filter((node) => node && node.name !== undefined);
  const halted = value.halted && typeof value.halted === "object" ? value.halted : {};
  const autoholds = (Array.isArray(value.autoholds) ? value.autoholds : []).filter((hold) => hold && typeof hold === "object");
  return { nodes, halted, autoholds };
}

function labelsOf(doc) {
  const labels = new Set(doc.nodes.map((node) => labelText(node.label)));
  for (const label of Object.keys(doc.halted)) labels.add(label);
  return [...labels].sort();
}

/** The label select's options, rebuilt when the labels change; `keep` stays selected. */
function setLabels(select, labels, keep) {
  const wanted = keep && !labels.includes(keep) ? [...labels, keep] : labels;
  const now = [...select.options].slice(1).map((option) => option.value);
  if (select.options.length && JSON.stringify(now) === JSON.stringify(wanted)) return;
  replace(
    select,
    h("option", { value: "" }, "any label"),
    wanted.map((label) => h("option", { value: label }, label)),
  );
  select.value = keep || "";
}

/** A row filter: every word of `q` somewhere in the node, and the chosen label and state. */
function matcher({ q, label, state }) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return (node) => {
    if (label && labelText(node.label) !== label) return false;
    if (state && node.state !== state) return false;
    if (!words.length) return true;
    const text = [
      node.name,
      labelText(node.label),
      node.provider,
      node.state,
      node.detail,
      node.address,
      ...(Array.isArray(node.capabilities) ? node.capabilities : []),
      ...(Array.isArray(node.builds) ? node.builds : []),
    ]
      .filter((part) => part !== null && part !== undefined)
      .join("\n")
      .toLowerCase();
    return words.every((word) => text.includes(word));
  };
}

function drawSummary(doc, summary, halts, pickLabel) {
  const labels = new Map();
  for (const node of doc.nodes) {
    const name = labelText(node.label);
    if (!labels.has(name)) labels.set(name, { nodes: [], counts: Object.fromEntries(STATES.map((s) => [s, 0])) });
    const entry = labels.get(name);
    entry.nodes.push(node);
    entry.counts[node.state] = (entry.counts[node.state] || 0) + 1;
  }
  for (const label of Object.keys(doc.halted)) {
    if (!labels.has(label)) labels.set(label, { nodes: [], counts: Object.fromEntries(STATES.map((s) => [s, 0])) });
  }
  replace(
    halts,
    Object.entries(doc.halted).map(([label, why]) =>
      h(
        "div",
        { class: "message error halted", "data-testid": "halted-label", "data-label": label },
        h("strong", {}, "Dispatching halted for label "),
        h("code", {}, label),
        h("strong", {}, ": "),
        String(why || "no reason given"),
        h(
          "div",
          { class: "halted-hint" },
          "Nothing more starts on its nodes until enough of them recover or an admin resumes it: ",
          h("code", {}, `osci node resume ${label}`),
        ),
      ),
    ),
  );
  if (!labels.size) {
    replace(summary, message("No labels: the server has no nodes.", "empty"));
    return;
  }
  const rows = [...labels.keys()].sort().map((name) => {
    const { nodes, counts } = labels.get(name);
    const slots = nodes.reduce((sum, node) => sum + (Number(node.slots) || 0), 0);
    const used = nodes.reduce((sum, node) => sum + (Number(node.used) || 0), 0);
    const pick = link(`/nodes?label=${encodeURIComponent(name)}`, name);
    pick.addEventListener("click", (event) => {
      event.preventDefault();
      pickLabel(name);
    });
    const halted = Object.prototype.hasOwnProperty.call(doc.halted, name);
    return h(
      "tr",
      { "data-testid": "label-row", "data-label": name, class: halted ? "label-halted" : null },
      h("td", {}, pick, halted ? [" ", h("span", { class: "badge node-halted" }, "halted")] : null),
      h("td", { class: "num", "data-testid": "label-total" }, String(nodes.length)),
      STATES.map((state) =>
        h(
          "td",
          { class: `num${counts[state] ? ` count-${state}` : " muted"}`, "data-state": state },
          String(counts[state] || 0),
        ),
      ),
      h("td", { class: "num" }, `${used}/${slots}`),
    );
  });
  replace(summary, table(["Label", "Nodes", ...STATES, "Slots used"], rows, { class: "grid label-summary" }));
}

function nodesTable(nodes, times) {
  const rows = nodes.map((node) => {
    const time = times.get(node.name);
    return h(
      "tr",
      { "data-testid": "node-row", "data-node": String(node.name), "data-state": String(node.state) },
      h("td", { class: "col-name" }, link(nodeHref(node.name), String(node.name))),
      h("td", {}, labelText(node.label)),
      h("td", {}, String(node.provider ?? "–")),
      h("td", {}, stateBadge(node.state)),
      h("td", {}, capabilities(node.capabilities)),
      h("td", { class: "num" }, `${Number(node.used) || 0}/${Number(node.slots) || 0}`),
      h("td", { "data-testid": "node-builds" }, buildLinks(node.builds)),
      h("td", { class: "node-detail", "data-testid": "node-detail" }, detail(node)),
      h(
        "td",
        { class: "col-changed", "data-testid": "node-changed", title: time && time.type ? `latest event: ${time.type}` : null },
        time && time.time ? exactTime(time.time) : "–",
      ),
    );
  });
  return table(
    ["Name", "Label", "Provider", "State", "Capabilities", "Slots", "Builds", "Why", "Last change"],
    rows,
    { class: "grid nodes", "data-testid": "nodes-table" },
  );
}

function holdsTable(autoholds) {
  const rows = autoholds.map((hold) => {
    const held = Array.isArray(hold.held) ? hold.held : [];
    return h(
      "tr",
      { "data-testid": "autohold-row" },
      h("td", {}, String(hold.project ?? "–")),
      h("td", {}, String(hold.job ?? "–")),
      h("td", {}, `${held.length} of ${hold.count ?? "?"}`),
      h("td", {}, hold.reason ? String(hold.reason) : h("span", { class: "muted" }, "–")),
      h("td", {}, buildLinks(held)),
    );
  });
  return [
    h("p", { class: "muted" }, "The nodes of these jobs' next failing builds are kept (held) for debugging."),
    table(["Project", "Job", "Held", "Reason", "Held builds"], rows),
  ];
}

/** The time of each node's latest event, read when the page first sees the node and when its
 * state or detail changes (then once more at the next refresh: events are written in batches). */
async function learnTimes(nodes, times, alive) {
  const first = times.size === 0;
  const todo = [];
  for (const node of nodes) {
    const sig = `${node.state}\u0000${node.detail || ""}`;
    const known = times.get(node.name);
    if (!known) {
      // Seen at the page's first read: one look (none past the cap); a node that came later: two.
      const checks = first ? (todo.length >= LOOKUPS ? 2 : 1) : 0;
      times.set(node.name, { sig, checks, time: null, type: null });
    } else if (known.sig !== sig) {
      times.set(node.name, { sig, checks: 0, time: known.time, type: known.type });
    }
    const entry = times.get(node.name);
    if (entry.checks < 2) todo.push([node.name, entry]);
  }
  const names = new Set(nodes.map((node) => node.name));
  for (const name of [...times.keys()]) if (!names.has(name)) times.delete(name);
  const worker = async () => {
    while (todo.length && alive()) {
      const [name, entry] = todo.shift();
      entry.checks += 1;
      try {
        const one = await getJSON(`nodes/${seg(name)}`);
        const latest = Array.isArray(one.events) && one.events.length ? one.events[0] : null;
        if (latest) {
          entry.time = latest.time;
          entry.type = latest.type;
        }
      } catch {
        /* the node left meanwhile, or the server is busy: the next refresh tries again */
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}
