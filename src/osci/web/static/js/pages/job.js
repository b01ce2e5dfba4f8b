// One job: totals, pass rate and duration over time, recent builds, its frozen definition, its
// variants, and where it runs and why.
import { h, section, table, message } from "../dom.js";
import { getJSON, seg } from "../api.js";
import { duration } from "../format.js";
import { chartSet } from "../charts.js";
import {
  buildsTable,
  daysSwitch,
  failure,
  jobLink,
  pageHead,
  projectLink,
  readDays,
  seriesCharts,
  stats,
  totalsEntries,
} from "../history.js";

export async function render(root, ctx) {
  const name = ctx.params.name;
  const days = readDays(ctx.query);
  root.append(pageHead(h("span", {}, h("span", { class: "muted" }, "Job "), name), daysSwitch(ctx.query, days)));
  let job;
  try {
    job = await getJSON(`job/${seg(name)}`, { days });
  } catch (error) {
    root.append(failure(error, `job ${name}`));
    return;
  }
  const charts = chartSet();
  const { grid, draw } = seriesCharts(charts, job.series || [], days);
  const config = job.config || null;
  const ran = Boolean(job.totals && job.totals.runs);
  root.append(
    stats("job-totals", totalsEntries(job.totals)),
    ran ? grid : message(`No runs in the last ${days} days: nothing to chart.`),
    section("Recent builds", buildsTable(job.recent || [], { showJob: false })),
    whereItRuns(config),
    definitionSection(config),
  );
  if (ran) draw();
  return () => charts.destroy();
}

function whereItRuns(config) {
  const box = section("Where it runs and why");
  box.dataset.testid = "job-why";
  if (!config) {
    box.append(
      message(
        "The server's configuration does not define this job: it comes from a project's own configuration " +
          "(.osci.yaml) or from an earlier configuration.",
      ),
    );
    return box;
  }
  const why = config.why || [];
  if (why.length) box.append(h("ul", { class: "why" }, why.map((sentence) => h("li", {}, sentence))));
  const runsIn = config.runs_in || [];
  if (runsIn.length) {
    box.append(
      table(
        ["Project", "Pipeline", "Branches", "Files", "Irrelevant files", "Defined at"],
        runsIn.map((r) => [
          projectLink(r.project),
          r.pipeline || "–",
          list(r.branches, "every branch"),
          list(r.files, "any file"),
          list(r.irrelevant_files, "none"),
          r.location ? h("span", { class: "mono" }, r.location) : "–",
        ]),
        { "data-testid": "runs-in" },
      ),
    );
  } else {
    box.append(message("No project runs this job in any pipeline."));
  }
  const variants = config.variants || [];
  if (variants.length) {
    box.append(
      h("h3", {}, "Variants"),
      table(
        ["Defined at", "Branches"],
        variants.map((v) => [h("span", { class: "mono" }, v.location || "–"), list(v.branches, "every branch")]),
        { "data-testid": "job-variants" },
      ),
    );
  }
  return box;
}

/** A list of patterns as code chips, or a muted word when there are none. */
function list(values, none) {
  if (!values || !values.length) return h("span", { class: "muted" }, none);
  return h("span", { class: "chips" }, values.map((value) => h("code", {}, value)));
}

const PHASES = ["pre-run", "run", "post-run"];
const SIMPLE = [
  ["description", "Description"],
  ["parent", "Parent"],
  ["timeout", "Timeout"],
  ["post-timeout", "Post-run timeout"],
  ["attempts", "Attempts"],
  ["voting", "Voting"],
  ["abstract", "Abstract"],
  ["final", "Final"],
];
const LISTS = [
  ["branches", "Branches"],
  ["files", "Files"],
  ["irrelevant-files", "Irrelevant files"],
  ["dependencies", "Dependencies"],
  ["soft-dependencies", "Soft dependencies"],
  ["tags", "Tags"],
  ["test-results", "Test results"],
  ["metrics", "Metrics"],
];

function definitionSection(config) {
  const box = section("Definition");
  box.dataset.testid = "job-definition";
  const definition = config && config.definition;
  if (!definition) {
    box.append(message("No definition in the server's configuration."));
    return box;
  }
  const provenance = definition.provenance || {};
  const rows = [];
  const add = (key, label, value) => {
    // Steps name their own location; other attributes say where they were set.
    const where = provenance[key] && !PHASES.includes(key) ? h("span", { class: "where" }, provenance[key]) : null;
    rows.push(h("dt", {}, label), h("dd", {}, value, where));
  };
  if (definition.location) add("location", "Defined at", h("span", { class: "mono" }, definition.location));
  for (const [key, label] of SIMPLE) {
    const value = definition[key];
    if (value === null || value === undefined || value === "" || (value === false && key !== "voting")) continue;
    if (key === "parent") add(key, label, jobLink(value));
    else if (key === "timeout" || key === "post-timeout") add(key, label, `${duration(value)} (${value} s)`);
    else add(key, label, typeof value === "boolean" ? (value ? "yes" : "no") : String(value));
  }
  const nodeset = definition.nodeset;
  if (nodeset && ((nodeset.nodes || []).length || nodeset.name)) {
    add(
      "nodeset",
      "Nodeset",
      h(
        "div",
        {},
        nodeset.name ? h("div", {}, nodeset.name) : null,
        (nodeset.nodes || []).map((node) =>
          h(
            "div",
            {},
            h("code", {}, node.name),
            ` on label `,
            h("code", {}, node.label),
            (node.requires || []).length ? ` requires ${node.requires.join(", ")}` : null,
          ),
        ),
      ),
    );
  }
  for (const phase of PHASES) {
    const steps = definition[phase] || [];
    if (!steps.length) continue;
    add(
      phase,
      phase,
      h(
        "ol",
        { class: "steps" },
        steps.map((step) =>
          h(
            "li",
            {},
            step.path !== undefined && step.path !== null
              ? h("code", {}, step.path)
              : h("pre", { class: "script" }, String(step.script ?? "")),
            step.location ? h("span", { class: "where" }, step.location) : null,
          ),
        ),
      ),
    );
  }
  for (const [key, label] of LISTS) {
    const values = definition[key] || [];
    if (!values.length) continue;
    add(key, label, key === "dependencies" || key === "soft-dependencies" ? h("span", { class: "chips" }, values.map(jobLink)) : list(values));
  }
  if (definition.vars && Object.keys(definition.vars).length) {
    add("vars", "Variables", h("pre", {}, JSON.stringify(definition.vars, null, 2)));
  }
  if ((definition.inheritance || []).length) {
    add("inheritance", "Inheritance", h("ol", { class: "steps" }, definition.inheritance.map((label) => h("li", {}, label))));
  }
  const json = h("pre", { class: "definition-json", "data-testid": "job-definition-json", hidden: true }, JSON.stringify(definition, null, 2));
  const toggle = h("button", { type: "button", "aria-expanded": "false" }, "Show JSON");
  toggle.addEventListener("click", () => {
    json.hidden = !json.hidden;
    toggle.textContent = json.hidden ? "Show JSON" : "Hide JSON";
    toggle.setAttribute("aria-expanded", String(!json.hidden));
  });
  box.append(h("dl", { class: "kv" }, rows), h("div", { class: "toolbar" }, toggle), json);
  return box;
}

