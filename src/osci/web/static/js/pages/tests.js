// Tests: the most fragile tests of the window, and a search over every test seen in it.
import { h, section, table, message, replace } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, percent, when } from "../format.js";
import { daysSwitch, failure, flakyBadge, jobLink, pageHead, projectLink, readDays, testCell } from "../history.js";

const PAGE = 50;

export async function render(root, ctx) {
  const days = readDays(ctx.query);
  root.append(pageHead("Tests", daysSwitch(ctx.query, days)));
  const fragileBox = section(`Most fragile tests, last ${days} days`, h("p", { class: "loading" }, "Loading…"));
  const results = h("div", { "data-testid": "test-search-results" });
  const input = h("input", {
    type: "search",
    name: "q",
    placeholder: "Search tests by name",
    "aria-label": "Search tests by name",
    "data-testid": "test-search",
    maxlength: 100,
    value: ctx.query.get("q") || "",
  });
  const form = h("form", { class: "filters", role: "search" }, input, h("button", { type: "submit" }, "Search"));
  root.append(section("Find a test", form, results), fragileBox);

  let skip = Number(ctx.query.get("skip")) || 0;
  let asked = 0;
  let timer = null;
  const search = async () => {
    const mine = ++asked;
    const q = input.value.trim();
    ctx.setQuery({ q, skip: skip || null });
    let found;
    try {
      found = await getJSON("tests", { q, days, limit: PAGE, skip });
    } catch (error) {
      if (mine === asked) replace(results, failure(error, "tests"));
      return;
    }
    if (mine !== asked) return;
    replace(results, searchResults(found, q, skip, (next) => {
      skip = next;
      search();
    }));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    skip = 0;
    search();
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    skip = 0;
    timer = setTimeout(search, 250);
  });

  const fragile = getJSON("tests/fragile", { days, limit: 20 })
    .then((tests) => replace(fragileBox, h("h2", {}, `Most fragile tests, last ${days} days`), fragileTable(tests)))
    .catch((error) => replace(fragileBox, h("h2", {}, "Most fragile tests"), failure(error, "the fragile tests")));
  await Promise.all([search(), fragile]);
  return () => clearTimeout(timer);
}

function fragileTable(tests) {
  if (!tests.length) return message("No test failed in this window.");
  const rows = tests.map((test) =>
    h(
      "tr",
      { "data-testid": "test-row" },
      [
        testCell(test, (test.jobs || []).length === 1 ? test.jobs[0] : null),
        h("span", { class: "rate-fail" }, percent(test.failure_rate)),
        `${test.failures ?? 0} / ${test.runs ?? 0}`,
        test.flaky ? flakyBadge() : "",
        h("span", { class: "chips" }, (test.jobs || []).map(jobLink)),
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  return table(["Test", "Failure rate", "Failures / runs", "", "Jobs"], rows, { "data-testid": "fragile-tests" });
}

function searchResults(tests, q, skip, go) {
  if (!tests.length && !skip) return message(q ? `No test name contains “${q}” in this window.` : "No tests in this window.");
  const rows = tests.map((test) =>
    h(
      "tr",
      { "data-testid": "test-row" },
      [
        testCell(test, test.job),
        jobLink(test.job),
        projectLink(test.project),
        String(test.runs ?? 0),
        String(test.failures ?? 0),
        percent(test.failure_rate),
        test.last_status ? badge(test.last_status) : "–",
        when(test.last_time),
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  const previous = h("button", { type: "button", disabled: skip === 0 }, "Previous");
  const next = h("button", { type: "button", disabled: tests.length < PAGE }, "Next");
  previous.addEventListener("click", () => go(Math.max(0, skip - PAGE)));
  next.addEventListener("click", () => go(skip + PAGE));
  return h(
    "div",
    {},
    table(["Test", "Job", "Project", "Runs", "Failures", "Failure rate", "Last", "Last run"], rows, { "data-testid": "test-table" }),
    h("div", { class: "pager" }, previous, next, h("span", { class: "muted" }, `${skip + 1}–${skip + tests.length}`)),
  );
}
