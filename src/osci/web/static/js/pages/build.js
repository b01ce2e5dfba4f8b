// /build/<uuid>: a build's summary, attempts, test results, artifacts, metrics and console log
// (followed live while the build runs; the summary is read again when it ends).
import { ApiError, getJSON, seg } from "../api.js";
import { h, link, message, replace, section, table } from "../dom.js";
import { badge, changeLabel, duration, shortRev, when } from "../format.js";
import { consoleLog } from "../log.js";
import { testsSection } from "../testresults.js";

export async function render(root, ctx) {
  const { uuid } = ctx.params;
  let build;
  try {
    build = await getJSON(`build/${seg(uuid)}`);
  } catch (error) {
    const text = error instanceof ApiError && error.status === 404 ? `No build ${uuid}` : error.message;
    replace(root, h("h1", {}, "Build"), message(text, "error"));
    return undefined;
  }
  let closed = false;
  const title = h("h1", { class: "build-title" });
  const details = h("div", { class: "build-details" });
  const rest = h("div", { class: "build-results" });
  const running = !build.result && build.state !== "completed";
  const refresh = async () => {
    try {
      const fresh = await getJSON(`build/${seg(build.uuid)}`);
      if (!closed) await show(fresh);
    } catch (error) {
      if (!closed) details.prepend(message(`The build could not be read again: ${error.message}`, "error"));
    }
  };
  const log = consoleLog(build.uuid, {
    running,
    onEnd: refresh,
    onStart: build.state === "waiting" ? refresh : null, // now it has a node and a start time
  });

  let shown = 0;
  async function show(current) {
    const mine = ++shown;
    const tests = await testsSection(current);
    if (closed || mine !== shown) return; // gone, or a newer read of the build is on its way
    replace(title, heading(current));
    replace(details, summary(current), attempts(current));
    replace(rest, tests, h("div", { class: "build-pair" }, artifacts(current), metrics(current)));
  }

  // While it runs the log is what people watch, so it comes first; afterwards the failures do.
  replace(root, title, details, ...(running ? [log.node, rest] : [rest, log.node]));
  await Promise.all([show(build), log.start()]);
  return () => {
    closed = true;
    log.close();
  };
}

function heading(build) {
  return [
    h("span", { "data-testid": "build-result", class: "build-result" }, badge(build.result, build.state)),
    " ",
    build.job || "build",
    " ",
    h("span", { class: "mono muted build-uuid" }, build.uuid),
  ];
}

function kv(rows) {
  return h(
    "dl",
    { class: "kv" },
    rows.filter(Boolean).map(([key, value]) => [h("dt", {}, key), h("dd", {}, value ?? "–")]),
  );
}

function summary(build) {
  const folder = `/logs/${seg(build.uuid)}/`;
  const changeValue = build.change
    ? link(`/builds?change=${encodeURIComponent(build.change)}`, changeLabel(build))
    : h("span", { class: "mono" }, changeLabel(build));
  const left = kv([
    ["Result", build.result ? badge(build.result) : badge(null, build.state)],
    ["Job", build.job ? link(`/job/${seg(build.job)}`, build.job) : "–"],
    ["Project", build.project ? link(`/project/${seg(build.project)}`, build.project) : "–"],
    ["Pipeline", build.pipeline || "–"],
    ["Branch", build.branch || "–"],
    ["Change", changeValue],
    ["Revision", build.newrev ? h("span", { class: "mono", title: build.newrev }, shortRev(build.newrev)) : "–"],
    build.voting === false ? ["Voting", "non-voting: its result does not count"] : null,
  ]);
  const right = kv([
    ["Node", build.node || "–"],
    ["Duration", durationText(build)],
    ["Started", when(build.start_time)],
    ["Ended", when(build.end_time)],
    ["Reason", build.reason || "–"],
    ["Buildset", build.buildset ? link(`/buildset/${seg(build.buildset)}`, h("span", { class: "mono" }, build.buildset)) : "–"],
    [
      "Logs",
      h(
        "span",
        { class: "links" },
        h("a", { href: `/api/build/${seg(build.uuid)}/log` }, "raw console log"),
        " · ",
        h("a", { href: folder }, "build folder"),
      ),
    ],
  ]);
  const card = section("Summary", h("div", { class: "summary-columns" }, left, right));
  card.setAttribute("data-testid", "summary");
  return card;
}

function durationText(build) {
  if (build.duration !== null && build.duration !== undefined) return duration(build.duration);
  if (build.estimated_duration) return `running (usually ${duration(build.estimated_duration)})`;
  return build.result ? "–" : "running";
}

function attempts(build) {
  const rows = (build.attempts || []).map((attempt) => [
    String(attempt.number ?? "–"),
    badge(attempt.result, attempt.state),
    attempt.node || "–",
    when(attempt.start_time),
    duration(attempt.duration),
    attempt.reason || "–",
    attempt.interrupted ? h("span", { class: "tag warn" }, "interrupted") : "no",
  ]);
  const card = section(
    `Attempts (${rows.length})`,
    rows.length
      ? table(["#", "Result", "Node", "Start", "Duration", "Reason", "Interrupted"], rows)
      : none("No attempts recorded yet."),
  );
  card.setAttribute("data-testid", "attempts");
  return card;
}

function artifactUrl(build, artifact) {
  if (typeof artifact.url === "string" && artifact.url.startsWith("/logs/")) return artifact.url;
  const path = String(artifact.path || "").split("/").map(encodeURIComponent).join("/");
  return `/logs/${seg(build.uuid)}/artifacts/${path}`;
}

function artifacts(build) {
  const list = build.artifacts || [];
  const rows = list.map((artifact) => {
    const url = artifactUrl(build, artifact);
    const name = String(artifact.path || "").split("/").pop() || "artifact";
    return [
      h("span", { class: "mono" }, artifact.path || "–"),
      bytes(artifact.size),
      h("a", { href: url, "data-testid": "artifact-view" }, "view"),
      h("a", { href: url, download: name, "data-testid": "artifact-download" }, "download"),
    ];
  });
  const card = section(
    `Artifacts (${list.length})`,
    list.length ? table(["Path", "Size", "", ""], rows) : none("No artifacts."),
    list.length ? h("p", {}, h("a", { href: `/logs/${seg(build.uuid)}/artifacts/` }, "browse the artifacts folder")) : null,
  );
  card.setAttribute("data-testid", "artifacts");
  return card;
}

function metrics(build) {
  const list = build.metrics || [];
  const card = section(
    `Metrics (${list.length})`,
    list.length
      ? table(["Name", "Value", "Unit"], list.map((m) => [m.name, String(m.value ?? "–"), m.unit || ""]))
      : none("No metrics."),
  );
  card.setAttribute("data-testid", "metrics");
  return card;
}

function bytes(size) {
  if (typeof size !== "number") return "–";
  if (size < 1024) return `${size} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = size;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function none(text) {
  return h("p", { class: "muted" }, text);
}
