// Projects: runs, failures and infrastructure errors per project over the window.
import { h, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, percent } from "../format.js";
import { daysSwitch, failure, filterBox, pageHead, projectLink, readDays } from "../history.js";

export async function render(root, ctx) {
  const days = readDays(ctx.query);
  root.append(pageHead("Projects", daysSwitch(ctx.query, days)));
  let projects;
  try {
    projects = await getJSON("projects", { days });
  } catch (error) {
    root.append(failure(error, "projects"));
    return;
  }
  const rows = projects.map((p) =>
    h(
      "tr",
      { "data-testid": "project-row", dataset: { name: String(p.project).toLowerCase() } },
      [
        projectLink(p.project),
        String(p.runs ?? 0),
        String(p.passed ?? 0),
        p.failed ? h("span", { class: "count-fail" }, String(p.failed)) : "0",
        p.infra ? h("span", { class: "count-infra" }, String(p.infra)) : "0",
        h("span", { class: "rate-fail" }, percent(p.failure_rate)),
        h("span", { class: "rate-infra" }, percent(p.infra_rate ?? (p.runs ? (p.infra ?? 0) / p.runs : null))),
        p.last_result ? badge(p.last_result) : h("span", { class: "muted" }, "never ran"),
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  const empty = message("No project matches the filter.");
  empty.hidden = true;
  const apply = (text) => {
    let shown = 0;
    for (const row of rows) {
      row.hidden = Boolean(text) && !row.dataset.name.includes(text);
      if (!row.hidden) shown++;
    }
    empty.hidden = shown > 0;
  };
  const box = filterBox(ctx, "Filter projects by name", apply, "projects-filter");
  root.append(
    section(
      `${projects.length} projects, last ${days} days`,
      h("div", { class: "filters" }, box),
      projects.length
        ? table(["Project", "Runs", "Passed", "Failed", "Infra", "Failure rate", "Infra rate", "Last result"], rows, {
            "data-testid": "projects-table",
          })
        : message("No projects are configured and none ran in this window."),
      empty,
    ),
  );
  apply(box.value.trim().toLowerCase());
}
