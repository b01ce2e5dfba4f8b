// Pieces shared by the history pages (jobs, projects, tests, trends, events, config): the time
// window switch, links between pages, totals strips and the builds/buildsets tables.
import { h, link, table, message } from "./dom.js";
import { seg } from "./api.js";
import { badge, changeLabel, duration, percent, when } from "./format.js";
import { byDay, chartBox, COLORS, dayLabel } from "./charts.js";

export const jobHref = (name) => `/job/${seg(name)}`;
/** Project names may hold "/" ("openstack/neutron"): each part is encoded, the slashes stay. */
export const projectHref = (name) => `/project/${String(name).split("/").map(seg).join("/")}`;
export const buildHref = (uuid) => `/build/${seg(uuid)}`;
export const buildsetHref = (uuid) => `/buildset/${seg(uuid)}`;

/** The test-history page of one test (names can hold anything, so they go in the query). */
export function testHref({ name, classname, job }) {
  const query = new URLSearchParams({ name });
  if (classname) query.set("classname", classname);
  if (job) query.set("job", job);
  return `/test?${query}`;
}

export const jobLink = (name) => (name ? link(jobHref(name), name) : "–");
export const projectLink = (name) => (name ? link(projectHref(name), name) : "–");

/** A duration that may be well under a second (test cases, quick jobs): "0.31s", "2.5s", "3m 5s". */
export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  const number = Number(value);
  if (number >= 10) return duration(number);
  return `${Number(number.toFixed(number < 1 ? 2 : 1))}s`;
}

/** `?days=` as an integer 1..365; anything else gives the page's default. */
export function readDays(query, fallback = 30) {
  const raw = query.get("days");
  if (!raw || !/^\d{1,3}$/.test(raw)) return fallback;
  const days = Number(raw);
  return days >= 1 && days <= 365 ? days : fallback;
}

/** "7 days | 30 days | 90 days": links to this page with another `?days=` (other filters kept,
 * as they are when the link is used: a filter box may have changed the query since). */
export function daysSwitch(query, current, choices = [7, 30, 90]) {
  const target = (days, search) => {
    const next = new URLSearchParams(search);
    next.set("days", String(days));
    next.delete("skip");
    return `${location.pathname}?${next}`;
  };
  return h(
    "nav",
    { class: "days-switch", "aria-label": "Time window" },
    choices.map((days) => {
      const a = link(target(days, query), `${days} days`);
      const refresh = () => a.setAttribute("href", target(days, location.search));
      for (const name of ["click", "focus", "mouseenter"]) a.addEventListener(name, refresh);
      a.dataset.testid = `days-${days}`;
      if (days === current) {
        a.setAttribute("aria-current", "true");
        a.classList.add("current");
      }
      return a;
    }),
  );
}

/** A page title with the window switch beside it. */
export function pageHead(title, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), ...extra);
}

/** A strip of big figures: [[label, value, kind?, testid?], ...]; kind colours the value (ok, fail, infra). */
export function stats(testid, entries) {
  return h(
    "div",
    { class: "stats card", "data-testid": testid },
    entries.map(([label, value, kind, id]) =>
      h(
        "div",
        { class: `stat${kind ? ` stat-${kind}` : ""}`, "data-testid": id },
        h("div", { class: "stat-value" }, value),
        h("div", { class: "stat-label" }, label),
      ),
    ),
  );
}

/** The figures every totals block shows: runs, pass/failure/infra rates apart, counts. */
export function totalsEntries(totals = {}) {
  const t = totals || {};
  const entries = [["runs", String(t.runs ?? 0)]];
  if ("pass_rate" in t) entries.push(["pass rate", percent(t.pass_rate), "ok"]);
  entries.push(["failure rate", percent(t.failure_rate), "fail"], ["infra rate", percent(t.infra_rate), "infra"]);
  entries.push(["passed", String(t.passed ?? 0)], ["failed", String(t.failed ?? 0)], ["infra errors", String(t.infra ?? 0)]);
  if ("avg_duration" in t) entries.push(["avg duration", seconds(t.avg_duration)]);
  return entries;
}

/** Builds as a table: result, job, project, change, pipeline, duration, end. */
export function buildsTable(builds, { testid = "recent-builds", showProject = true, showJob = true } = {}) {
  if (!builds || !builds.length) return message("No builds in this window.");
  const headers = ["Result", "Build"];
  if (showJob) headers.push("Job");
  if (showProject) headers.push("Project");
  headers.push("Change", "Pipeline", "Branch", "Duration", "Ended");
  const rows = builds.map((b) => {
    const cells = [badge(b.result, b.state), link(buildHref(b.uuid), h("span", { class: "mono" }, String(b.uuid).slice(0, 8)))];
    if (showJob) cells.push(jobLink(b.job));
    if (showProject) cells.push(projectLink(b.project));
    cells.push(
      b.buildset ? link(buildsetHref(b.buildset), changeLabel(b)) : changeLabel(b),
      b.pipeline || "–",
      b.branch || "–",
      seconds(b.duration),
      when(b.end_time || b.start_time),
    );
    return h("tr", { "data-testid": "build-row" }, cells.map((cell) => h("td", {}, cell)));
  });
  return table(headers, rows, { "data-testid": testid });
}

/** Buildset entries (as /api/buildsets gives them) as a table linking to the buildset pages. */
export function buildsetsTable(buildsets, { testid = "recent-buildsets" } = {}) {
  if (!buildsets || !buildsets.length) return message("No buildsets yet.");
  const rows = buildsets.map((bs) => {
    const item = bs.item || {};
    const counts = bs.builds;
    const summary = counts
      ? [
          h("span", { class: "count-ok" }, `${counts.passed ?? 0} passed`),
          counts.failed ? h("span", { class: "count-fail" }, ` · ${counts.failed} failed`) : null,
          counts.infra ? h("span", { class: "count-infra" }, ` · ${counts.infra} infra`) : null,
          counts.running ? h("span", { class: "count-run" }, ` · ${counts.running} running`) : null,
          h("span", { class: "muted" }, ` of ${counts.total ?? 0}`),
        ]
      : "–";
    return h(
      "tr",
      { "data-testid": "buildset-row" },
      [
        badge(bs.result, item.state),
        link(buildsetHref(bs.uuid), h("span", { class: "mono" }, String(bs.uuid).slice(0, 8))),
        changeLabel(item),
        item.pipeline || "–",
        item.branch || "–",
        h("span", {}, summary),
        when(bs.created),
      ].map((cell) => h("td", {}, cell)),
    );
  });
  return table(["Result", "Buildset", "Change", "Pipeline", "Branch", "Builds", "Created"], rows, { "data-testid": testid });
}

/** A test's name (as text) with its class name under it, linking to its history. */
export function testCell(test, job) {
  return h(
    "div",
    { class: "test-cell" },
    link(testHref({ name: test.name, classname: test.classname, job }), h("span", { class: "test-name" }, test.name)),
    test.classname ? h("div", { class: "muted mono" }, test.classname) : null,
  );
}

/** The marker of a test that passed and failed on the same revision. */
export function flakyBadge() {
  return h(
    "span",
    { class: "badge flaky", "data-testid": "flaky-badge", title: "passed and failed on the same revision" },
    "flaky",
  );
}

/** An error from the API, shown in the page (a 404 says what was not found). */
export function failure(error, what) {
  if (error && error.status === 404) return message(`${what}: not found (${error.message}).`, "error");
  return message(`Could not load ${what}: ${error && error.message ? error.message : error}`, "error");
}

/** A text box that filters the rows of a table as one types, kept in the URL as `?q=`. */
export function filterBox(ctx, placeholder, onFilter, testid = "filter") {
  const input = h("input", {
    type: "search",
    placeholder,
    "aria-label": placeholder,
    "data-testid": testid,
    value: ctx.query.get("q") || "",
  });
  input.addEventListener("input", () => {
    ctx.setQuery({ q: input.value.trim() });
    onFilter(input.value.trim().toLowerCase());
  });
  return input;
}

/** The job and project charts from a day series: pass rate, runs by outcome, duration. */
export function seriesCharts(charts, series, days) {
  const rate = chartBox("chart-pass-rate", "Pass rate per day");
  const runs = chartBox("chart-runs", "Runs per day: passed, failed, infra");
  const time = chartBox("chart-duration", "Average duration per day");
  const grid = h("div", { class: "charts" }, rate.box, runs.box, time.box);
  const pick = (key) => byDay(series, days, (entry) => entry[key]);
  const labels = pick("runs").labels.map(dayLabel);
  // Charts need their canvas in the document to size themselves: draw once the grid is placed.
  const draw = () => {
    charts.line(rate.canvas, {
      labels,
      percent: true,
      datasets: [{ label: "pass rate", data: pick("pass_rate").values, color: COLORS.passed }],
    });
    const counts = (key) => byDay(series, days, (entry) => entry[key] ?? 0, 0).values;
    charts.bar(runs.canvas, {
      labels,
      stacked: true,
      datasets: [
        { label: "passed", data: counts("passed"), color: COLORS.passed },
        { label: "failed", data: counts("failed"), color: COLORS.failed },
        { label: "infra", data: counts("infra"), color: COLORS.infra },
      ],
    });
    charts.line(time.canvas, {
      labels,
      yTitle: "seconds",
      yFormat: seconds,
      datasets: [{ label: "average duration", data: pick("avg_duration").values, color: COLORS.line }],
    });
  };
  return { grid, draw };
}
