// Events: what happened outside (pushes, patchsets, comments, timers), what each triggered and the
// items it created, or why nothing ran.
import { h, link, section, table, message, replace } from "../dom.js";
import { getJSON } from "../api.js";
import { badge, shortRev, when } from "../format.js";
import { buildsetHref, failure, projectLink } from "../history.js";

const TYPES = ["ref-updated", "tag-created", "patchset-created", "comment-added", "change-merged", "timer", "manual"];
const LIMIT = 100;

export async function render(root, ctx) {
  const project = h("input", {
    type: "search",
    name: "project",
    placeholder: "Project",
    "aria-label": "Project",
    "data-testid": "events-project",
    value: ctx.query.get("project") || "",
  });
  const type = h("input", {
    type: "search",
    name: "type",
    list: "event-types",
    placeholder: "Type",
    "aria-label": "Event type",
    "data-testid": "events-type",
    value: ctx.query.get("type") || "",
  });
  const types = h("datalist", { id: "event-types" }, TYPES.map((value) => h("option", { value })));
  const form = h("form", { class: "filters", role: "search" }, project, type, types, h("button", { type: "submit" }, "Filter"));
  const body = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  root.append(h("h1", {}, "Events"), section("Recent events", form, body));

  let asked = 0;
  const load = async () => {
    const mine = ++asked;
    const filters = { project: project.value.trim(), type: type.value.trim() };
    ctx.setQuery(filters);
    let events;
    try {
      events = await getJSON("events", { ...filters, limit: LIMIT });
    } catch (error) {
      if (mine === asked) replace(body, failure(error, "events"));
      return;
    }
    if (mine !== asked) return;
    for (const event of events) {
      if (event.type && !TYPES.includes(event.type)) {
        TYPES.push(event.type);
        types.append(h("option", { value: event.type }));
      }
    }
    replace(body, eventsTable(events, filters));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  type.addEventListener("change", load);
  await load();
}

/** What the event is about: the change, or the ref and the revision it moved to. */
function subject(event) {
  const parts = [];
  if (event.change) parts.push(h("span", {}, event.patchset ? `${event.change},${event.patchset}` : String(event.change)));
  else if (event.ref) parts.push(h("span", {}, event.ref.replace(/^refs\/heads\//, "")));
  else if (event.branch) parts.push(h("span", {}, event.branch));
  if (event.branch && (event.change || (event.ref && event.ref.replace(/^refs\/heads\//, "") !== event.branch))) {
    parts.push(h("span", { class: "muted" }, ` on ${event.branch}`));
  }
  if (event.newrev) parts.push(" ", h("code", { title: event.newrev }, shortRev(event.newrev)));
  return parts.length ? h("span", {}, parts) : "–";
}

function items(event) {
  const list = event.items || [];
  if (!list.length) return null;
  return h(
    "ul",
    { class: "event-items" },
    list.map((item) =>
      h(
        "li",
        { "data-testid": "event-item" },
        badge(item.result, item.state),
        " ",
        item.buildset ? link(buildsetHref(item.buildset), item.pipeline || "buildset") : h("span", {}, item.pipeline || "item"),
      ),
    ),
  );
}

function eventsTable(events, filters) {
  if (!events.length) {
    const filtered = filters.project || filters.type;
    return message(filtered ? "No event matches these filters." : "No events recorded yet.");
  }
  const rows = events.map((event) =>
    h(
      "tr",
      { "data-testid": "event-row", class: (event.items || []).length ? null : "event-idle" },
      [
        when(event.received_at),
        event.connection || "–",
        h("code", {}, event.type || "–"),
        projectLink(event.project),
        subject(event),
        event.author || "–",
        h("div", { class: "event-outcome" }, event.outcome ? h("div", {}, event.outcome) : null, items(event)),
      ].map((cell) => h("td", {}, cell)),
    ),
  );
  return table(["Received", "Connection", "Type", "Project", "Change / ref", "Author", "Outcome"], rows, {
    "data-testid": "events-table",
  });
}
