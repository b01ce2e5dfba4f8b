// A build's test results: counts, then every failed or error test with its message and output
// right beneath it (visible with no click), then the passed and skipped ones folded away.
import { getJSON, seg } from "./api.js";
import { h, link, message, section, table } from "./dom.js";
import { badge, duration } from "./format.js";

const FAILING = new Set(["failed", "error"]);

/** The page of one test's history across builds. */
export function testHref(test, job) {
  const params = [["name", test.name], ["classname", test.classname], ["job", job]]
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`);
  return `/test?${params.join("&")}`;
}

/** The "Tests" card; `counts` is the build's {passed, failed, error, skipped, total} (may be missing). */
export async function testsSection(build) {
  const counts = build.tests || null;
  const card = section("Tests");
  card.setAttribute("data-testid", "tests");
  if (counts && !counts.total) {
    card.append(h("p", { class: "muted" }, "This build has no test results."));
    return card;
  }
  let tests;
  try {
    tests = await getJSON(`build/${seg(build.uuid)}/tests`);
  } catch (error) {
    card.append(message(`Test results could not be loaded: ${error.message}`, "error"));
    return card;
  }
  if (!tests.length) {
    card.append(h("p", { class: "muted" }, "This build has no test results."));
    return card;
  }
  const failing = tests.filter((test) => FAILING.has(test.status));
  const others = tests.filter((test) => !FAILING.has(test.status));
  card.append(summary(tests));
  if (failing.length) card.append(failures(failing, build.job));
  if (others.length) {
    const passed = others.filter((test) => test.status === "passed").length;
    const skipped = others.length - passed;
    card.append(
      h(
        "details",
        { class: "other-tests" },
        h("summary", {}, `${passed} passed, ${skipped} skipped`),
        table(
          ["Status", "Name", "Class", "Duration"],
          others.map((test) =>
            h(
              "tr",
              { "data-testid": "other-test" },
              h("td", {}, badge(test.status)),
              h("td", {}, link(testHref(test, build.job), test.name)),
              h("td", { class: "mono" }, test.classname || "–"),
              h("td", {}, duration(test.duration)),
            ),
          ),
        ),
      ),
    );
  }
  return card;
}

function summary(tests) {
  const counts = { failed: 0, error: 0, passed: 0, skipped: 0 };
  for (const test of tests) counts[test.status] = (counts[test.status] || 0) + 1;
  return h(
    "p",
    { class: "test-summary" },
    Object.entries(counts)
      .filter(([, n]) => n)
      .map(([status, n]) => [h("span", { class: `badge result-${status}` }, `${n} ${status}`), " "]),
  );
}

function failures(tests, job) {
  const rows = [];
  for (const test of tests) {
    rows.push(
      h(
        "tr",
        { class: "failed-test", "data-testid": "failed-test" },
        h("td", {}, badge(test.status)),
        h("td", { class: "test-name" }, link(testHref(test, job), test.name)),
        h("td", { class: "mono" }, test.classname || "–"),
        h("td", {}, duration(test.duration)),
      ),
    );
    const detail = [];
    if (test.message) detail.push(h("div", { class: "failure-message" }, test.message));
    if (test.output) detail.push(h("pre", { class: "test-output", "data-testid": "test-output" }, test.output));
    if (!detail.length) detail.push(h("span", { class: "muted" }, "no message or output recorded"));
    if (test.source) detail.push(h("div", { class: "muted test-source" }, `from ${test.source}`));
    rows.push(h("tr", { class: "test-detail" }, h("td", { colspan: 4 }, detail)));
  }
  return table(["Status", "Failing test", "Class", "Duration"], rows, { class: "grid failures" });
}
