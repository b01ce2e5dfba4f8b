// The dashboard's router: one HTML shell for every page path; each page is a module under
// ./pages exporting `render(root, ctx)`, which may return a cleanup function (closing streams,
// destroying charts) that runs when the user navigates away.
import { h, replace, message } from "./dom.js";

const ROUTES = [
  [/^\/(status)?$/, "status"],
  [/^\/builds$/, "builds"],
  [/^\/buildsets$/, "buildsets"],
  [/^\/buildset\/([^/]+)$/, "buildset", ["uuid"]],
  [/^\/build\/([^/]+)$/, "build", ["uuid"]],
  [/^\/jobs$/, "jobs"],
  [/^\/job\/(.+)$/, "job", ["name"]],
  [/^\/projects$/, "projects"],
  [/^\/project\/(.+)$/, "project", ["name"]],
  [/^\/tests$/, "tests"],
  [/^\/test$/, "test"],
  [/^\/trends$/, "trends"],
  [/^\/nodes$/, "nodes"],
  [/^\/node\/(.+)$/, "node", ["name"]],
  [/^\/events$/, "events"],
  [/^\/config$/, "config"],
];

let cleanup = null;
let generation = 0;
let rendered = null; // path and query of the page on screen: a change of #fragment alone keeps it

function match(pathname) {
  for (const [pattern, page, names = []] of ROUTES) {
    const found = pattern.exec(pathname);
    if (found) {
      const params = {};
      names.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1]);
      });
      return { page, params };
    }
  }
  return null;
}

/** Change the query string of the current page (filters) without rendering it again. */
export function setQuery(values) {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === "") url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  history.replaceState(history.state, "", url);
  rendered = location.pathname + location.search;
}

export function navigate(path, { replaceHistory = false } = {}) {
  if (replaceHistory) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  return render();
}

async function render() {
  const mine = ++generation;
  rendered = location.pathname + location.search;
  if (cleanup) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
    cleanup = null;
  }
  const root = document.getElementById("app");
  const route = match(location.pathname);
  highlightNav(route ? route.page : null);
  if (!route) {
    replace(root, message(`No page at ${location.pathname}`, "error"));
    return;
  }
  replace(root, h("p", { class: "loading" }, "Loading…"));
  try {
    const [module] = await Promise.all([
      import(`./pages/${route.page}.js`),
      route.page === "status" ? null : chartJs(),
    ]);
    if (mine !== generation) return;
    const query = new URLSearchParams(location.search);
    const view = h("div", { class: `page page-${route.page}` });
    replace(root, view);
    const result = await module.render(view, { params: route.params, query, navigate, setQuery });
    if (mine !== generation) {
      if (typeof result === "function") result();
      return;
    }
    cleanup = typeof result === "function" ? result : null;
    scrollToHash();
  } catch (error) {
    if (mine !== generation) return;
    console.error(error);
    replace(root, message(error.message || String(error), "error"));
  }
}

let chartLoading = null;

/** The vendored Chart.js, loaded on first need: the status page (the landing page, and the one
 * that must render fast with hundreds of items) draws no chart. */
function chartJs() {
  if (window.Chart) return Promise.resolve();
  if (!chartLoading) {
    chartLoading = new Promise((resolve) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/chart.umd.min.js";
      script.onload = resolve;
      script.onerror = resolve; // the pages then say that charts are unavailable
      document.head.append(script);
    });
  }
  return chartLoading;
}

function scrollToHash() {
  if (!location.hash) return;
  const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) target.scrollIntoView({ block: "center" });
}

function highlightNav(page) {
  const section = { build: "builds", buildset: "buildsets", job: "jobs", project: "projects", test: "tests", node: "nodes" }[page] || page;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === `/${section}`);
  }
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-nav]");
  if (!a || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    history.pushState({}, "", url);
    scrollToHash();
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => {
  if (location.pathname + location.search === rendered) scrollToHash();
  else render();
});
render();
