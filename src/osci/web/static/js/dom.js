// Building the DOM without ever parsing HTML: every string becomes a text node, so whatever a
// test name, a log line or a commit message holds is shown as text and never run.

/** h("a", {href: "/x", class: "y", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key === "href") {
      el.setAttribute("href", safeHref(value));
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Only http(s), relative and fragment links: a "javascript:" URL from a log_url never gets in. */
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith("/") || text.startsWith("#") || text.startsWith("?")) return text;
  try {
    const url = new URL(text, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "#";
  } catch {
    return "#";
  }
}

/** A link inside the dashboard: navigates without a reload. */
export function link(path, ...children) {
  return h("a", { href: path, "data-nav": true }, ...children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A table from column headers and rows of cells (cells are strings or nodes). */
export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    { class: "grid", ...attrs },
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", {}, title)))),
    h("tbody", {}, rows.map((cells) => (cells instanceof Node ? cells : h("tr", {}, cells.map((c) => h("td", {}, c)))))),
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function message(text, kind = "info") {
  return h("p", { class: `message ${kind}` }, text);
}
