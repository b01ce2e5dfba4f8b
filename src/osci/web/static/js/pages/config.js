// Configuration: errors of the last failed reload (file:line:column), the latest loads, and the
// pipelines, projects and jobs of the running configuration.
import { h, section, table, message } from "../dom.js";
import { getJSON } from "../api.js";
import { when } from "../format.js";
import { failure, jobLink, projectLink } from "../history.js";

export async function render(root) {
  root.append(h("h1", {}, "Configuration"));
  let config;
  try {
    config = await getJSON("config");
  } catch (error) {
    // An older server without /api/config still answers the errors.
    if (error.status !== 404) {
      root.append(failure(error, "the configuration"));
      return;
    }
    config = { errors: await getJSON("config/errors").catch(() => []) };
  }
  root.append(errorsSection(config.errors || []), loadsSection(config.loads));
  const pipelines = config.pipelines || [];
  root.append(
    h(
      "div",
      { class: "columns" },
      section(
        `Pipelines (${pipelines.length})`,
        pipelines.length
          ? table(
              ["Pipeline", "Manager", "Precedence"],
              pipelines.map((p) => [p.name, p.manager || "–", p.precedence || "–"]),
              { "data-testid": "config-pipelines" },
            )
          : message("No pipelines."),
      ),
      names("Projects", config.projects, projectLink, "config-projects"),
      names("Jobs", config.jobs, jobLink, "config-jobs"),
    ),
  );
}

function errorsSection(errors) {
  if (!errors.length) {
    const box = section("Errors", message("The configuration loaded without errors."));
    box.dataset.testid = "config-errors";
    return box;
  }
  const box = section(
    `${errors.length} configuration error${errors.length === 1 ? "" : "s"}: the last reload was refused and the previous configuration still runs`,
    table(
      ["Where", "Message"],
      errors.map((e) => [h("code", {}, [e.file || "?", e.line, e.column].filter((v) => v !== null && v !== undefined).join(":")), h("pre", { class: "error-text" }, e.message || "")]),
    ),
  );
  box.classList.add("config-errors");
  box.dataset.testid = "config-errors";
  box.setAttribute("role", "alert");
  return box;
}

function loadsSection(loads) {
  if (loads === undefined) return null;
  const box = section(
    "Latest loads",
    loads.length
      ? table(
          ["Loaded", "Result", "Source", "Errors"],
          loads.map((load) => [
            when(load.loaded_at),
            load.ok ? h("span", { class: "badge result-SUCCESS" }, "ok") : h("span", { class: "badge result-FAILURE" }, "refused"),
            load.source ? h("code", {}, load.source) : "–",
            String(Array.isArray(load.errors) ? load.errors.length : (load.errors ?? 0)),
          ]),
        )
      : message("No loads recorded."),
  );
  box.dataset.testid = "config-loads";
  return box;
}

function names(title, list, linkTo, testid) {
  const values = list || [];
  const box = section(
    `${title} (${values.length})`,
    values.length ? h("ul", { class: "names" }, values.map((name) => h("li", {}, linkTo(name)))) : message(`No ${title.toLowerCase()}.`),
  );
  box.dataset.testid = testid;
  return box;
}
