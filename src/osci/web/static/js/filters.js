// Filter bars and Previous/Next pagers for the list pages; the values live in the URL's query.
import { h } from "./dom.js";

export const RESULTS = [
  "SUCCESS",
  "FAILURE",
  "ERROR",
  "RETRY_LIMIT",
  "TIMED_OUT",
  "ABORTED",
  "SKIPPED",
  "MERGE_CONFLICT",
];

/**
 * fields: [{name, label, options?: [values]}]: a text input, or a select when `options` is given.
 * `onChange(values)` runs on Enter in a text box, when a text box loses focus changed, and on
 * every select change. Returns {node, values()}.
 */
export function filterBar(fields, query, onChange) {
  const inputs = new Map();
  let last = null;
  const values = () => {
    const out = {};
    for (const [name, input] of inputs) out[name] = input.value.trim();
    return out;
  };
  const fire = () => {
    const now = JSON.stringify(values());
    if (now === last) return;
    last = now;
    onChange(values());
  };
  const controls = fields.map((field) => {
    const testid = field.testid || `filter-${field.name}`;
    let input;
    if (field.options) {
      input = h(
        "select",
        { "data-testid": testid, "aria-label": field.label, name: field.name },
        h("option", { value: "" }, `any ${field.label.toLowerCase()}`),
        field.options.map((option) => h("option", { value: option }, option)),
      );
      input.value = query.get(field.name) || "";
      input.addEventListener("change", fire);
    } else {
      input = h("input", {
        type: field.search ? "search" : "text",
        "data-testid": testid,
        "aria-label": field.label,
        placeholder: field.label,
        name: field.name,
        value: query.get(field.name) || "",
        size: field.size || 12,
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") fire();
      });
      input.addEventListener("change", fire);
      if (field.search) input.addEventListener("search", fire);
    }
    inputs.set(field.name, input);
    return input;
  });
  last = JSON.stringify(values());
  const clear = h("button", { type: "button", class: "link-button" }, "Clear");
  clear.addEventListener("click", () => {
    for (const input of inputs.values()) input.value = "";
    fire();
  });
  return { node: h("div", { class: "filters" }, controls, clear), values };
}

/** Previous/Next buttons; Next is disabled when fewer than `limit` rows came back. */
export function pager({ skip, limit, rows, onPage }) {
  const prev = h("button", { type: "button", "data-testid": "prev-page", disabled: skip <= 0 }, "← Previous");
  const next = h("button", { type: "button", "data-testid": "next-page", disabled: rows < limit }, "Next →");
  prev.addEventListener("click", () => onPage(Math.max(0, skip - limit)));
  next.addEventListener("click", () => onPage(skip + limit));
  const range = rows ? `${skip + 1}–${skip + rows}` : "none";
  return h("div", { class: "pager" }, prev, next, h("span", { class: "muted" }, `showing ${range}`));
}

/** A non-negative integer from the query, or the fallback. */
export function intParam(query, name, fallback) {
  const value = Number.parseInt(query.get(name) || "", 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}
