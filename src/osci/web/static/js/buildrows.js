// The builds table shared by the builds list and the buildset page.
import { h, link, table } from "./dom.js";
import { seg } from "./api.js";
import { badge, changeLabel, duration, shortRev, when } from "./format.js";

const COLUMNS = [
  ["result", "Result", (b) => badge(b.result, b.state)],
  ["job", "Job", (b) => (b.job ? link(`/job/${seg(b.job)}`, b.job) : "–")],
  ["project", "Project", (b) => (b.project ? link(`/project/${seg(b.project)}`, b.project) : "–")],
  ["change", "Change", changeCell],
  ["pipeline", "Pipeline", (b) => b.pipeline || "–"],
  ["branch", "Branch", (b) => b.branch || "–"],
  ["author", "Author", (b) => (b.author ? h("span", { title: b.author }, authorName(b.author)) : "–")],
  ["start", "Start", (b) => when(b.start_time)],
  ["duration", "Duration", (b) => duration(b.duration)],
  ["tests", "Tests", testsCell],
  ["buildset", "Buildset", (b) => (b.buildset ? link(`/buildset/${seg(b.buildset)}`, b.buildset.slice(0, 8)) : "–")],
  ["build", "Build", (b) => link(`/build/${seg(b.uuid)}`, h("span", { class: "mono" }, b.uuid.slice(0, 8)))],
];

function changeCell(b) {
  if (b.change) return link(`/builds?change=${encodeURIComponent(b.change)}`, h("span", { class: "mono" }, changeLabel(b)));
  // A pushed ref or branch tip (the branch has its own column): the revision tells builds apart.
  const title = [b.ref, b.newrev].filter(Boolean).join(" ");
  return h("span", { class: "mono", title }, b.newrev ? shortRev(b.newrev) : changeLabel(b));
}

/** "Dev Eloper" from "Dev Eloper <dev@example.org>" (the whole text when there is no name). */
export function authorName(author) {
  const name = String(author).replace(/\s*<[^>]*>\s*$/, "");
  return name || String(author);
}

function testsCell(b) {
  const tests = b.tests;
  if (!tests) return "–";
  const failed = (tests.failed || 0) + (tests.error || 0);
  const passed = tests.passed || 0;
  if (!failed && !passed) return h("span", { class: "muted" }, "–");
  return h(
    "span",
    { class: "test-counts" },
    h("span", { class: "passed", title: "passed" }, `${passed} ✓`),
    " ",
    h("span", { class: failed ? "failed" : "muted", title: "failed or error" }, `${failed} ✗`),
  );
}

/** The table; `omit` lists column keys to leave out (the buildset page needs no buildset column). */
export function buildsTable(builds, { omit = [], testid = "builds-table" } = {}) {
  const columns = COLUMNS.filter(([key]) => !omit.includes(key));
  const rows = builds.map((b) =>
    h(
      "tr",
      { "data-testid": "build-row", "data-build": b.uuid, "data-job": b.job || "" },
      columns.map(([key, , cell]) => h("td", { class: `col-${key}` }, cell(b))),
    ),
  );
  return table(
    columns.map(([, title]) => title),
    rows,
    { "data-testid": testid, class: "grid builds" },
  );
}
