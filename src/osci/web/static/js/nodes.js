// Pieces shared by the nodes list and the node page: state badges, links, labels, polling.
import { h, link } from "./dom.js";
import { seg } from "./api.js";
import { buildHref } from "./history.js";

/** Every state a node shows (the server's nodes/model.py), in the order the summaries count them. */
export const STATES = ["ready", "in-use", "cleaning", "offline", "quarantined", "maintenance", "held"];
export const REFRESH = 5000; // ms between two reads of the API

export const nodeHref = (name) => `/node/${seg(name)}`;

/** A coloured badge for a node's state (class names in app.css; an unknown state is grey). */
export function stateBadge(state) {
  const text = String(state || "unknown");
  const known = STATES.includes(text) ? text : "other";
  return h("span", { class: `badge node-state node-${known}`, "data-testid": "node-state" }, text);
}

/** A node's label: `null` is the implicit local pool that runs every job, `*` the jobs without a nodeset. */
export function labelText(label) {
  if (label === null || label === undefined) return "any label";
  if (label === "*") return "no nodeset";
  return String(label);
}

export function capabilities(list) {
  const caps = Array.isArray(list) ? list : [];
  if (!caps.length) return h("span", { class: "muted" }, "–");
  return h("span", { class: "chips" }, caps.map((cap) => h("code", {}, String(cap))));
}

/** The builds a node runs, each linked to its build page. */
export function buildLinks(builds) {
  const list = Array.isArray(builds) ? builds : [];
  if (!list.length) return h("span", { class: "muted" }, "–");
  return h(
    "span",
    { class: "node-builds" },
    list.map((uuid) => link(buildHref(uuid), h("span", { class: "mono", title: String(uuid) }, String(uuid).slice(0, 8)))),
  );
}

/**
 * Call `load` now and every REFRESH ms after the previous call ended (never two at once) until
 * stopped. Returns {first: a promise settled when the first call ends, stop()}.
 */
export function poll(load) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    timer = null;
    if (stopped) return;
    try {
      await load();
    } catch (error) {
      console.error(error); // a bad document: the next refresh tries again
    } finally {
      if (!stopped) timer = setTimeout(run, REFRESH);
    }
  };
  const first = run();
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  return { first, stop };
}

/** Why a node is in its state; a held node also says how to reach it. */
export function detail(node) {
  const parts = [];
  if (node.detail) parts.push(h("div", {}, String(node.detail)));
  if (node.state === "held" && node.address) {
    parts.push(h("div", { class: "reach" }, "reach it: ", h("code", { "data-testid": "node-address" }, String(node.address))));
  }
  if (Number(node.failures) > 0) {
    parts.push(h("div", { class: "muted" }, `${node.failures} infrastructure error${node.failures === 1 ? "" : "s"} in a row`));
  }
  return parts.length ? parts : h("span", { class: "muted" }, "–");
}
