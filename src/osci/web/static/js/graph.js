// A buildset's job graph drawn as SVG: a layered layout where a job's column is one more than the
// highest column of its dependencies, boxes coloured by result, arrows from dependency to dependent.
// Every label is set with textContent, so a job name can hold anything.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 180;
const NODE_H = 40;
const GAP_X = 70;
const GAP_Y = 16;
const PAD = 12;
const MAX_LABEL = 22;

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function text(tag, attrs, value) {
  const node = el(tag, attrs);
  node.textContent = value;
  return node;
}

/** Columns and rows for jobs [{name, dependencies}]; unknown dependencies and cycles are ignored. */
export function layout(jobs) {
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const column = new Map();
  const visiting = new Set();
  const columnOf = (name) => {
    if (column.has(name)) return column.get(name);
    if (visiting.has(name)) return 0; // a cycle: break it here
    visiting.add(name);
    const deps = (byName.get(name).dependencies || []).filter((dep) => byName.has(dep) && dep !== name);
    const value = deps.length ? 1 + Math.max(...deps.map(columnOf)) : 0;
    visiting.delete(name);
    column.set(name, value);
    return value;
  };
  jobs.forEach((job) => columnOf(job.name));
  const columns = [];
  jobs.forEach((job, index) => {
    const c = column.get(job.name);
    (columns[c] ||= []).push({ job, index });
  });
  const row = new Map();
  columns.forEach((members) => {
    // Order a column by where its dependencies sit, so edges cross less; then by listing order.
    const weight = ({ job, index }) => {
      const rows = (job.dependencies || []).filter((dep) => row.has(dep)).map((dep) => row.get(dep));
      return [rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : index, index];
    };
    members.sort((a, b) => {
      const [wa, ia] = weight(a);
      const [wb, ib] = weight(b);
      return wa - wb || ia - ib;
    });
    members.forEach(({ job }, r) => row.set(job.name, r));
  });
  return { column, row, columns: columns.length, rows: Math.max(0, ...columns.map((m) => m.length)) };
}

/**
 * The graph as an <svg>. jobs: [{name, dependencies, voting}]; builds: Map job name -> build
 * ({uuid, result, state}); onOpen(build) is called when a node is clicked.
 */
export function jobGraph(jobs, builds, onOpen) {
  const { column, row, columns, rows } = layout(jobs);
  const width = PAD * 2 + columns * NODE_W + Math.max(0, columns - 1) * GAP_X;
  const height = PAD * 2 + rows * NODE_H + Math.max(0, rows - 1) * GAP_Y;
  const x = (name) => PAD + column.get(name) * (NODE_W + GAP_X);
  const y = (name) => PAD + row.get(name) * (NODE_H + GAP_Y);
  const svg = el("svg", {
    class: "job-graph",
    "data-testid": "job-graph",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "job dependency graph",
  });
  svg.appendChild(
    el(
      "defs",
      {},
      el(
        "marker",
        { id: "graph-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
        el("path", { d: "M0,0 L10,5 L0,10 z", class: "graph-arrowhead" }),
      ),
    ),
  );
  const names = new Set(jobs.map((job) => job.name));
  for (const job of jobs) {
    for (const dep of job.dependencies || []) {
      if (!names.has(dep) || dep === job.name) continue;
      const x1 = x(dep) + NODE_W;
      const y1 = y(dep) + NODE_H / 2;
      const x2 = x(job.name) - 2;
      const y2 = y(job.name) + NODE_H / 2;
      const bend = Math.max(20, (x2 - x1) / 2);
      const edge = el("path", {
        class: "graph-edge",
        "data-testid": "graph-edge",
        "data-from": dep,
        "data-to": job.name,
        d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
        "marker-end": "url(#graph-arrow)",
      });
      edge.appendChild(text("title", {}, `${job.name} depends on ${dep}`));
      svg.appendChild(edge);
    }
  }
  for (const job of jobs) svg.appendChild(node(job, builds.get(job.name), x(job.name), y(job.name), onOpen));
  return svg;
}

function node(job, build, x, y, onOpen) {
  const result = build ? build.result || build.state || "waiting" : "waiting";
  const label = job.name.length > MAX_LABEL ? `${job.name.slice(0, MAX_LABEL - 1)}…` : job.name;
  const group = el(
    "g",
    {
      class: `graph-node result-${String(result).replace(/[^A-Za-z_]/g, "")}${job.voting === false ? " non-voting" : ""}`,
      "data-testid": "graph-node",
      "data-job": job.name,
      transform: `translate(${x},${y})`,
    },
    el("rect", { width: NODE_W, height: NODE_H, rx: 8, ry: 8 }),
    text("text", { x: 10, y: 17, class: "graph-label" }, label),
    text("text", { x: 10, y: 32, class: "graph-result" }, `${result}${job.voting === false ? " · non-voting" : ""}`),
  );
  group.appendChild(text("title", {}, `${job.name}: ${result}`));
  if (!build || !build.uuid) return group;
  const href = `/build/${encodeURIComponent(build.uuid)}`;
  const anchor = el("a", { href, class: "graph-link", "aria-label": `${job.name}: ${result}` }, group);
  anchor.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    onOpen(build);
  });
  return anchor;
}
