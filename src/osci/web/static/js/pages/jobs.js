// Jobs: every job with its runs, pass rate, failures and infrastructure errors over the window.
import { h, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, percent, when } from "../format.js";
import { daysSwitch, failure, filterBox, jobLink, pageHead, readDays, seconds } from "../history.js";

export async function render(root, ctx) {
  const days = readDays(ctx.query);
  root.append(pageHead("Jobs", daysSwitch(ctx.query, days)));
  let jobs;
  try {
    jobs = await getJSON("jobs", { days });
  } catch (error) {
    root.append(failure(error, "jobs"));
    return;
  }
  const rows = jobs.map((job) =>
    h(
      "tr",
      { "data-testid": "job-row", dataset: { name: String(job.job).toLowerCase() } },
      [
        jobLink(job.job),
        String(job.runs ?? 0),
        h("span", { class: "rate-ok" }, percent(job.pass_rate)),
        job.failed ? h("span", { class: "count-fail" }, String(job.failed)) : "0",
        job.infra ? h("span", { class: "count-infra" }, String(job.infra)) : "0",
        seconds(job.avg_duration),
        job.last_result ? badge(job.last_result) : h("span", { class: "muted" }, "never ran"),
        when(job.last_end_time),
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  const empty = message("No job matches the filter.");
  empty.hidden = true;
  const apply = (text) => {
    let shown = 0;
    for (const row of rows) {
      row.hidden = Boolean(text) && !row.dataset.name.includes(text);
      if (!row.hidden) shown++;
    }
    empty.hidden = shown > 0;
  };
  const box = filterBox(ctx, "Filter jobs by name", apply, "jobs-filter");
  root.append(
    section(
      `${jobs.length} jobs, last ${days} days`,
      h("div", { class: "filters" }, box),
      jobs.length
        ? table(["Job", "Runs", "Pass rate", "Failed", "Infra", "Avg duration", "Last result", "Last run"], rows, {
            "data-testid": "jobs-table",
          })
        : message("No jobs are configured and none ran in this window."),
      empty,
    ),
  );
  apply(box.value.trim().toLowerCase());
}
