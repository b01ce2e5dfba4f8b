// /builds: every build matching the filters in the URL, newest first, 50 a page.
import { getJSON } from "../api.js";
import { buildsTable } from "../buildrows.js";
import { h, message, replace } from "../dom.js";
import { filterBar, intParam, pager, RESULTS } from "../filters.js";

const LIMIT = 50; // rows a page, unless the URL asks for another number (?limit=, at most 500)
const FIELDS = [
  { name: "q", label: "Search builds", search: true, testid: "search", size: 22 },
  { name: "project", label: "Project" },
  { name: "pipeline", label: "Pipeline", size: 9 },
  { name: "job", label: "Job" },
  { name: "branch", label: "Branch", size: 9 },
  { name: "change", label: "Change", size: 9 },
  { name: "author", label: "Author" },
  { name: "result", label: "Result", options: RESULTS },
  { name: "state", label: "State", options: ["waiting", "running", "completed"] },
];

export async function render(root, ctx) {
  let skip = intParam(ctx.query, "skip", 0);
  const limit = Math.min(500, Math.max(1, intParam(ctx.query, "limit", LIMIT)));
  const results = h("div", { class: "card list-card" }, h("p", { class: "loading" }, "Loading…"));
  const bar = filterBar(FIELDS, ctx.query, () => {
    skip = 0;
    load();
  });
  replace(root, h("h1", {}, "Builds"), bar.node, results);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const filters = bar.values();
    ctx.setQuery({ ...filters, skip: skip || null, limit: limit === LIMIT ? null : limit });
    let builds;
    try {
      builds = await getJSON("builds", { ...filters, limit, skip });
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
      builds.length ? buildsTable(builds) : message("No builds match these filters."),
      pager({ skip, limit, rows: builds.length, onPage }),
    );
  }
  await load();
}
