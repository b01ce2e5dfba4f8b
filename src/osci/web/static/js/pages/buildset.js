// /buildset/<uuid>: the item a buildset tested, its job graph drawn as SVG, and its builds.
import { ApiError, getJSON, seg } from "../api.js";
import { buildsTable } from "../buildrows.js";
import { h, link, message, replace, section } from "../dom.js";
import { badge, changeLabel, duration, when } from "../format.js";
import { jobGraph } from "../graph.js";

export async function render(root, ctx) {
  const { uuid } = ctx.params;
  let set;
  try {
    set = await getJSON(`buildset/${seg(uuid)}`);
  } catch (error) {
    const text = error instanceof ApiError && error.status === 404 ? `No buildset ${uuid}` : error.message;
    replace(root, h("h1", {}, "Buildset"), message(text, "error"));
    return;
  }
  const item = set.item || {};
  const builds = set.builds || [];
  replace(
    root,
    h("h1", {}, badge(set.result || item.result, set.completed ? "completed" : item.state || "running"), " Buildset ",
      h("span", { class: "mono" }, set.uuid)),
    section("Item", summary(set, item)),
    section("Job graph", graph(set, builds, ctx)),
    section(`Builds (${builds.length})`, builds.length ? buildsTable(builds, { omit: ["buildset", "project", "pipeline", "branch", "author", "change"] }) : message("No builds yet.")),
  );
}

function summary(set, item) {
  const rows = [
    ["Pipeline", item.pipeline || "–"],
    ["Project", item.project ? link(`/project/${seg(item.project)}`, item.project) : "–"],
    ["Change", item.change
      ? link(`/builds?change=${encodeURIComponent(item.change)}`, changeLabel(item))
      : set.item ? changeLabel(item) : "–"],
    ["Branch", item.branch || "–"],
    ["Ref", item.ref ? h("span", { class: "mono" }, item.ref) : "–"],
    ["State", item.state || "–"],
    ["Result", set.result || item.result ? badge(set.result || item.result) : "–"],
    ["Message", set.message || "–"],
    ["Enqueued", when(item.enqueue_time)],
    ["Created", when(set.created)],
    ["Completed", set.completed ? `${when(set.completed)} (took ${duration((Date.parse(set.completed) - Date.parse(set.created)) / 1000)})` : "–"],
  ];
  return h("dl", { class: "kv" }, rows.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]));
}

/** The stored graph when the API gives it; otherwise one box per build, without edges. */
function graph(set, builds, ctx) {
  const latest = new Map();
  for (const build of builds) {
    const seen = latest.get(build.job);
    if (!seen || (build.start_time || "") > (seen.start_time || "")) latest.set(build.job, build);
  }
  let jobs = set.graph && Array.isArray(set.graph.jobs) ? set.graph.jobs.filter((job) => job && job.name) : null;
  let note = null;
  if (!jobs || !jobs.length) {
    jobs = [...latest.keys()].map((name) => ({ name, dependencies: [], voting: latest.get(name).voting }));
    note = message("This buildset has no stored job graph: its builds are shown without dependencies.");
  }
  if (!jobs.length) return message("No jobs.");
  const svg = jobGraph(jobs, latest, (build) => ctx.navigate(`/build/${seg(build.uuid)}`));
  return [note, h("div", { class: "graph-scroll" }, svg)];
}
