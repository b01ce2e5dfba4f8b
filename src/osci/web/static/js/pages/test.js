// One test's history across builds: failure and flip rates, the revisions it was flaky on, a
// pass/fail timeline and every run, newest first. The name comes from the query string and is
// only ever shown as text (test names are hostile input).
import { h, link, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, percent, shortRev, when } from "../format.js";
import { chartSet, statusColor } from "../charts.js";
import { buildHref, failure, flakyBadge, jobLink, projectLink, seconds, stats, testHref } from "../history.js";

const LIMITS = [100, 500];

export async function render(root, ctx) {
  const name = ctx.query.get("name");
  const classname = ctx.query.get("classname") || "";
  const job = ctx.query.get("job") || "";
  const limit = LIMITS.includes(Number(ctx.query.get("limit"))) ? Number(ctx.query.get("limit")) : LIMITS[0];
  if (!name) {
    root.append(h("h1", {}, "Test history"), message("Which test? Find one on the Tests page."), link("/tests", "Tests"));
    return;
  }
  root.append(
    h("div", { class: "page-head" }, h("h1", { "data-testid": "test-name", class: "test-name" }, name)),
    h(
      "p",
      { class: "test-scope" },
      classname ? [h("span", { class: "muted" }, "class "), h("span", { class: "mono" }, classname), " · "] : null,
      job
        ? [h("span", { class: "muted" }, "in job "), jobLink(job), " · ", link(testHref({ name, classname }), "all jobs")]
        : h("span", { class: "muted" }, "in every job"),
    ),
  );
  let test;
  try {
    test = await getJSON("test/history", { name, classname, job, limit });
  } catch (error) {
    root.append(failure(error, "this test's history"));
    return;
  }
  const history = test.history || [];
  const flakyRevisions = test.flaky_revisions || [];
  const figures = stats("test-stats", [
    ["runs", String(test.runs ?? history.length)],
    ["failures", String(test.failures ?? 0), "fail"],
    ["failure rate", percent(test.failure_rate), "fail"],
    ["flips", String(test.flips ?? 0)],
    ["flip rate", percent(test.flip_rate), null, "flip-rate"],
    ["flaky revisions", String(flakyRevisions.length), flakyRevisions.length ? "infra" : null],
  ]);
  root.append(figures);
  if (flakyRevisions.length) {
    root.append(
      section(
        "Flaky revisions: passed and failed on the same code",
        h("p", { class: "chips" }, flakyRevisions.map((rev) => h("code", { title: rev }, shortRev(rev)))),
      ),
    );
  }
  const charts = chartSet();
  const timeline = timelineSection(history, charts, ctx);
  root.append(timeline.box);
  timeline.draw();
  const more =
    (test.runs ?? 0) > history.length && limit < LIMITS[LIMITS.length - 1]
      ? link(`/test?${new URLSearchParams({ ...Object.fromEntries(ctx.query), limit: String(LIMITS[1]) })}`, `Show up to ${LIMITS[1]} runs`)
      : null;
  root.append(section(`Runs (latest ${history.length})`, historyTable(history), more));
  return () => charts.destroy();
}

function timelineSection(history, charts, ctx) {
  const oldestFirst = history.slice().reverse();
  const strip = h(
    "div",
    { class: "strip", role: "list", "aria-label": "runs, oldest first" },
    oldestFirst.map((run) =>
      h("a", {
        href: buildHref(run.build),
        "data-nav": true,
        role: "listitem",
        class: `tick tick-${String(run.status).replace(/[^a-z]/g, "")}${run.flaky ? " tick-flaky" : ""}`,
        title: `${run.status} · ${run.job} · ${when(run.end_time)}`,
        "aria-label": `${run.status} in ${run.job}, ${when(run.end_time)}`,
      }),
    ),
  );
  const canvas = h("canvas", { role: "img", "aria-label": "runs over time: duration, coloured by status" });
  const frame = h("div", { class: "chart-box" }, canvas);
  const legend = h(
    "p",
    { class: "legend muted" },
    ["passed", "failed", "error", "skipped"].map((status) => h("span", {}, h("span", { class: `tick tick-${status}` }), status)),
  );
  const box = section("Timeline", strip, legend, frame);
  box.dataset.testid = "test-timeline";
  const timed = oldestFirst.filter((run) => run.end_time);
  const draw = () => {
    if (!timed.length) {
      frame.replaceWith(message("No timed runs to draw."));
      return;
    }
    charts.timeline(canvas, {
      yTitle: "duration (s)",
      yFormat: seconds,
      points: timed.map((run) => ({
        x: Date.parse(run.end_time),
        y: run.duration ?? 0,
        color: statusColor(run.status),
        label: `${run.status} · ${run.job} · ${seconds(run.duration)} · ${when(run.end_time)}`,
      })),
      onClick: (index) => ctx.navigate(buildHref(timed[index].build)),
    });
  };
  return { box, draw };
}

function historyTable(history) {
  if (!history.length) return message("No runs recorded.");
  const rows = history.map((run) =>
    h(
      "tr",
      { "data-testid": "history-row", class: run.flaky ? "flaky-row" : null },
      [
        badge(run.status),
        link(buildHref(run.build), h("span", { class: "mono" }, String(run.build).slice(0, 8))),
        jobLink(run.job),
        projectLink(run.project),
        run.pipeline || "–",
        run.branch || "–",
        run.change ? String(run.change) : "–",
        h("span", {}, h("code", { title: run.newrev || "" }, shortRev(run.newrev)), run.flaky ? [" ", flakyBadge()] : null),
        seconds(run.duration),
        when(run.end_time),
        run.message ? h("span", { class: "test-message" }, run.message) : "",
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  return table(
    ["Status", "Build", "Job", "Project", "Pipeline", "Branch", "Change", "Revision", "Duration", "Ended", "Message"],
    rows,
    { "data-testid": "test-history" },
  );
}
