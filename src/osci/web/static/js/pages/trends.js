// Trends over the past week or month: failures and infrastructure errors kept apart everywhere,
// per day, per pipeline and per job; the most fragile projects and tests; who breaks builds.
import { h, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { percent } from "../format.js";
import { byDay, chartBox, chartSet, COLORS, dayLabel } from "../charts.js";
import {
  daysSwitch,
  failure,
  flakyBadge,
  jobHref,
  jobLink,
  pageHead,
  projectLink,
  readDays,
  stats,
  testCell,
} from "../history.js";

export async function render(root, ctx) {
  const days = readDays(ctx.query, 7);
  root.append(pageHead(`Trends, last ${days} days`, daysSwitch(ctx.query, days, [7, 30])));
  let trends;
  try {
    trends = await getJSON("trends", { days });
  } catch (error) {
    root.append(failure(error, "the trends"));
    return;
  }
  const t = trends.totals || {};
  root.append(
    stats("trends-totals", [
      ["runs", String(t.runs ?? 0)],
      ["failure rate", percent(t.failure_rate), "fail", "failure-rate"],
      ["infra rate", percent(t.infra_rate), "infra", "infra-rate"],
      ["passed", String(t.passed ?? 0), "ok"],
      ["failed (the change's fault)", String(t.failed ?? 0), "fail"],
      ["infra errors (not the change's fault)", String(t.infra ?? 0), "infra"],
    ]),
  );
  const charts = chartSet();
  const daily = chartBox("chart-daily", "Builds per day: passed, failed, infra");
  const pipelines = chartBox("chart-pipelines", "Failure and infra rate per pipeline");
  const jobs = trends.jobs || [];
  const jobsBox = chartBox("chart-jobs", "Failure and infra rate per job (top 25)", { height: Math.max(240, 60 + 24 * jobs.length) });
  root.append(h("div", { class: "charts" }, daily.box, pipelines.box), jobsBox.box);

  const counts = (key) => byDay(trends.series, days, (entry) => entry[key] ?? 0, 0).values;
  charts.bar(daily.canvas, {
    labels: byDay(trends.series, days, () => 0).labels.map(dayLabel),
    stacked: true,
    datasets: [
      { label: "passed", data: counts("passed"), color: COLORS.passed },
      { label: "failed", data: counts("failed"), color: COLORS.failed },
      { label: "infra", data: counts("infra"), color: COLORS.infra },
    ],
  });
  const perPipeline = trends.pipelines || [];
  rateBars(charts, pipelines.canvas, perPipeline.map((p) => p.pipeline), perPipeline, {});
  rateBars(charts, jobsBox.canvas, jobs.map((j) => j.job), jobs, {
    horizontal: true,
    onClick: (index) => ctx.navigate(jobHref(jobs[index].job)),
  });
  if (!perPipeline.length) pipelines.box.append(message("No builds in this window."));
  if (!jobs.length) jobsBox.box.append(message("No job ran at least 3 times in this window."));
  jobsBox.box.append(jobsTable(jobs));

  root.append(
    h(
      "div",
      { class: "columns" },
      section("Most fragile projects", projectsTable(trends.projects || [])),
      section("Most fragile tests", testsTable(trends.tests || [])),
    ),
    authorsSection(trends.authors || [], trends.breaking_pipelines || []),
  );
  return () => charts.destroy();
}

function rateBars(charts, canvas, labels, rows, { horizontal = false, onClick = null }) {
  charts.bar(canvas, {
    labels,
    horizontal,
    stacked: true,
    percent: true,
    onClick,
    datasets: [
      { label: "failed", data: rows.map((r) => r.failure_rate ?? 0), color: COLORS.failed },
      { label: "infra", data: rows.map((r) => r.infra_rate ?? 0), color: COLORS.infra },
    ],
  });
}

/** The jobs of the chart as links (a chart's bars are not keyboard-friendly). */
function jobsTable(jobs) {
  if (!jobs.length) return null;
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "As a table"),
    table(
      ["Job", "Runs", "Failed", "Infra", "Failure rate", "Infra rate"],
      jobs.map((j) => [
        jobLink(j.job),
        String(j.runs ?? 0),
        String(j.failed ?? 0),
        String(j.infra ?? 0),
        h("span", { class: "rate-fail" }, percent(j.failure_rate)),
        h("span", { class: "rate-infra" }, percent(j.infra_rate)),
      ]),
      { "data-testid": "trend-jobs" },
    ),
  );
}

function projectsTable(projects) {
  if (!projects.length) return message("No builds in this window.");
  return table(
    ["Project", "Runs", "Failed", "Infra", "Failure rate", "Infra rate"],
    projects.map((p) => [
      projectLink(p.project),
      String(p.runs ?? 0),
      String(p.failed ?? 0),
      String(p.infra ?? 0),
      h("span", { class: "rate-fail" }, percent(p.failure_rate)),
      h("span", { class: "rate-infra" }, percent(p.infra_rate)),
    ]),
    { "data-testid": "fragile-projects" },
  );
}

function testsTable(tests) {
  if (!tests.length) return message("No test failed in this window.");
  return table(
    ["Test", "Failure rate", "Failures / runs", "", "Jobs"],
    tests.map((test) => [
      testCell(test, (test.jobs || []).length === 1 ? test.jobs[0] : null),
      h("span", { class: "rate-fail" }, percent(test.failure_rate)),
      `${test.failures ?? 0} / ${test.runs ?? 0}`,
      test.flaky ? flakyBadge() : "",
      h("span", { class: "chips" }, (test.jobs || []).map(jobLink)),
    ]),
    { "data-testid": "trend-tests" },
  );
}

function authorsSection(authors, breaking) {
  const note = breaking.length
    ? h(
        "p",
        { class: "muted" },
        "Failures (not infrastructure errors) of builds in the pipelines where a failure means a merged or merging change broke something: ",
        h("span", { class: "chips" }, breaking.map((name) => h("code", {}, name))),
        ", counted per change author.",
      )
    : h("p", { class: "muted" }, "No gate or post-merge pipeline is configured, so no failure is counted as breaking a build.");
  const body = authors.length
    ? table(
        ["Author", "Breaks", "Builds", "Break rate", "Projects"],
        authors.map((a) => [
          a.author || h("span", { class: "muted" }, "unknown"),
          h("span", { class: "count-fail" }, String(a.breaks ?? 0)),
          String(a.builds ?? 0),
          percent(a.builds ? (a.breaks ?? 0) / a.builds : null),
          h("span", { class: "chips" }, (a.projects || []).map(projectLink)),
        ]),
        { "data-testid": "authors" },
      )
    : h("div", { "data-testid": "authors" }, message("Nobody broke a build in this window."));
  return section("Who breaks builds", note, body);
}
