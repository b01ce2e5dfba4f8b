// One project: totals and charts over the window, its jobs, recent buildsets and builds, and its
// configuration (branch, merge mode, queue, the jobs of each pipeline).
import { h, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, percent } from "../format.js";
import { chartSet } from "../charts.js";
import {
  buildsetsTable,
  buildsTable,
  daysSwitch,
  failure,
  jobLink,
  pageHead,
  projectHref,
  readDays,
  seriesCharts,
  stats,
  totalsEntries,
} from "../history.js";

export async function render(root, ctx) {
  const name = ctx.params.name;
  const days = readDays(ctx.query);
  root.append(pageHead(h("span", {}, h("span", { class: "muted" }, "Project "), name), daysSwitch(ctx.query, days)));
  let project;
  try {
    // The name keeps its slashes: the API route takes the rest of the path.
    project = await getJSON(`/api${projectHref(name)}`, { days });
  } catch (error) {
    root.append(failure(error, `project ${name}`));
    return;
  }
  const charts = chartSet();
  const { grid, draw } = seriesCharts(charts, project.series || [], days);
  const ran = Boolean(project.totals && project.totals.runs);
  root.append(
    stats("project-totals", totalsEntries(project.totals)),
    ran ? grid : message(`No runs in the last ${days} days: nothing to chart.`),
    h("div", { class: "columns" }, jobsSection(project.jobs || []), configSection(project.config)),
    section("Recent buildsets", buildsetsTable(project.buildsets || [], { testid: "project-buildsets" })),
    section("Recent builds", buildsTable(project.recent || [], { showProject: false })),
  );
  if (ran) draw();
  return () => charts.destroy();
}

function jobsSection(jobs) {
  if (!jobs.length) return section("Jobs", message("No job ran for this project in this window."));
  return section(
    "Jobs",
    table(
      ["Job", "Runs", "Pass rate", "Failed", "Infra", "Last result"],
      jobs.map((job) => [
        jobLink(job.job),
        String(job.runs ?? 0),
        percent(job.pass_rate),
        job.failed ? h("span", { class: "count-fail" }, String(job.failed)) : "0",
        job.infra ? h("span", { class: "count-infra" }, String(job.infra)) : "0",
        job.last_result ? badge(job.last_result) : h("span", { class: "muted" }, "never ran"),
      ]),
      { "data-testid": "project-jobs" },
    ),
  );
}

function configSection(config) {
  const box = section("Configuration");
  box.dataset.testid = "project-config";
  if (!config) {
    box.append(message("This project is not in the running configuration."));
    return box;
  }
  const kv = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? h("span", { class: "muted" }, "–"))];
  box.append(
    h(
      "dl",
      { class: "kv" },
      kv("Default branch", config.default_branch),
      kv("Merge mode", config.merge_mode),
      kv("Queue", config.queue),
    ),
  );
  const pipelines = Object.entries(config.pipelines || {});
  box.append(
    pipelines.length
      ? table(
          ["Pipeline", "Jobs"],
          pipelines.map(([pipeline, jobs]) => [
            pipeline,
            jobs.length ? h("span", { class: "chips" }, jobs.map(jobLink)) : h("span", { class: "muted" }, "no jobs"),
          ]),
          { "data-testid": "project-pipelines" },
        )
      : message("The project is in no pipeline."),
  );
  return box;
}
