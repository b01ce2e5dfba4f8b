// /buildsets: the buildsets (one per item) matching the filters, newest first, 50 a page.
import { getJSON, seg } from "../api.js";
import { h, link, message, replace, table } from "../dom.js";
import { badge, changeLabel, duration, when } from "../format.js";
import { filterBar, intParam, pager, RESULTS } from "../filters.js";

const LIMIT = 50; // rows a page, unless the URL asks for another number (?limit=, at most 500)
const FIELDS = [
  { name: "project", label: "Project" },
  { name: "pipeline", label: "Pipeline", size: 9 },
  { name: "change", label: "Change", size: 9 },
  { name: "result", label: "Result", options: RESULTS },
];

export async function render(root, ctx) {
  let skip = intParam(ctx.query, "skip", 0);
  const limit = Math.min(500, Math.max(1, intParam(ctx.query, "limit", LIMIT)));
  const results = h("div", { class: "card list-card" }, h("p", { class: "loading" }, "Loading…"));
  const bar = filterBar(FIELDS, ctx.query, () => {
    skip = 0;
    load();
  });
  replace(root, h("h1", {}, "Buildsets"), bar.node, results);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const filters = bar.values();
    ctx.setQuery({ ...filters, skip: skip || null, limit: limit === LIMIT ? null : limit });
    let sets;
    try {
      sets = await getJSON("buildsets", { ...filters, limit, skip });
    } catch (error) {
      if (mine === generation) replace(results, message(error.message, "error"));
      return;
    }
    if (mine !== generation) return;
    const onPage = (next) => {
      skip = next;
      load();
    };
    replace(
      results,
      sets.length ? buildsetsTable(sets) : message("No buildsets match these filters."),
      pager({ skip, limit, rows: sets.length, onPage }),
    );
  }
  await load();
}

function buildsetsTable(sets) {
  const rows = sets.map((set) => {
    const item = set.item || {};
    const cells = [
      badge(set.result || item.result, set.completed ? "completed" : item.state || "running"),
      item.project ? link(`/project/${seg(item.project)}`, item.project) : "–",
      item.change
        ? link(`/builds?change=${encodeURIComponent(item.change)}`, h("span", { class: "mono" }, changeLabel(item)))
        : h("span", { class: "mono" }, set.item ? changeLabel(item) : "–"),
      item.pipeline || "–",
      item.branch || "–",
      buildCounts(set.builds),
      when(set.created),
      set.completed ? duration((Date.parse(set.completed) - Date.parse(set.created)) / 1000) : "–",
      link(`/buildset/${seg(set.uuid)}`, h("span", { class: "mono" }, set.uuid.slice(0, 8))),
    ];
    return h("tr", { "data-testid": "buildset-row", "data-buildset": set.uuid }, cells.map((c) => h("td", {}, c)));
  });
  return table(
    ["Result", "Project", "Change", "Pipeline", "Branch", "Builds", "Created", "Took", "Buildset"],
    rows,
    { "data-testid": "buildsets-table" },
  );
}

/** "4 builds: 3 passed, 1 failed" from {total, passed, failed, infra, running}. */
export function buildCounts(counts) {
  if (!counts) return "–";
  const parts = [];
  if (counts.passed) parts.push(h("span", { class: "passed" }, `${counts.passed} passed`));
  if (counts.failed) parts.push(h("span", { class: "failed" }, `${counts.failed} failed`));
  if (counts.infra) parts.push(h("span", { class: "infra" }, `${counts.infra} infra`));
  if (counts.running) parts.push(h("span", { class: "running" }, `${counts.running} running`));
  const list = [];
  parts.forEach((part, index) => list.push(index ? ", " : "", part));
  return h("span", { class: "build-counts" }, `${counts.total ?? "?"} `, list.length ? ["(", list, ")"] : null);
}
