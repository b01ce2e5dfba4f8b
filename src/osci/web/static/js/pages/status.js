// /status: every pipeline, its queues and items, updated live from /api/status/stream.
//
// The stream sends the whole document; only the cards whose data changed are rebuilt (cards are
// kept by item id with a JSON signature), and a one-second timer moves the progress bars between
// messages from the server's clock (`now`), so hundreds of items stay cheap.
import { getJSON, seg } from "../api.js";
import { h, link, replace } from "../dom.js";
import { changeLabel } from "../format.js";
import { parse, stream } from "../live.js";
import { haystack, itemCard, signature, tick } from "../statusitem.js";

const COLLAPSED = "osci.status.collapsed.";
const LINGER = 20000; // ms a finished item stays on the page with its final results

export async function render(root, ctx) {
  const filter = h("input", {
    type: "search",
    placeholder: "Filter by project, change, job or author",
    "aria-label": "Filter items",
    "data-testid": "status-filter",
    value: ctx.query.get("q") || "",
  });
  const count = h("span", { class: "muted", "data-testid": "item-count" });
  const notice = h("p", { class: "message", hidden: true });
  const body = h("div", { class: "pipelines" }, h("p", { class: "loading" }, "Connecting…"));
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Status"), h("div", { class: "filters" }, filter, count)),
    notice,
    body,
  );

  const view = new StatusView(body, count);
  view.filter = filter.value;
  filter.addEventListener("input", () => {
    ctx.setQuery({ q: filter.value.trim() });
    view.filter = filter.value;
    view.applyFilter();
  });

  performance.mark("osci:status-connect");
  const events = stream("/api/status/stream", {
    status(data) {
      const first = !view.started;
      if (first) performance.mark("osci:status-data"); // for bench/dashboard.py's timeline
      const doc = parse(data);
      if (!doc) return;
      notice.hidden = true;
      view.update(doc);
      if (first) performance.mark("osci:status-rendered");
    },
    closing() {
      notice.textContent = "The server is stopping; reconnecting…";
      notice.hidden = false;
      events.reconnect();
    },
    drop() {
      if (notice.hidden) {
        notice.textContent = "Connection to the server lost; reconnecting…";
        notice.hidden = false;
      }
    },
  });
  const timer = setInterval(() => view.tick(), 1000);
  return () => {
    events.close();
    clearInterval(timer);
  };
}

class StatusView {
  constructor(body, count) {
    this.body = body;
    this.count = count;
    this.filter = "";
    this.offset = 0; // server clock minus ours, in seconds
    this.pipelines = new Map(); // name -> {node, list, counter, queues: Map}
    this.items = new Map(); // id -> {node, sig, text, running, age, enqueued}
    this.empty = h("p", { class: "message empty" }, "No items in any pipeline. ", link("/builds", "See the recent builds"));
    this.noMatch = h("p", { class: "message empty" });
    this.started = false;
  }

  get clock() {
    return { serverNow: () => Date.now() / 1000 + this.offset };
  }

  update(doc) {
    if (typeof doc.now === "number") this.offset = doc.now - Date.now() / 1000;
    if (!this.started) {
      // The first (biggest) update builds every card off the page, then shows them at once.
      const placeholder = document.createComment("status");
      this.body.replaceWith(placeholder);
      replace(this.body, this.empty, this.noMatch);
      this.started = true;
      try {
        this.update(doc);
      } finally {
        placeholder.replaceWith(this.body);
      }
      return;
    }
    const seen = new Set();
    const pipelines = doc.pipelines || [];
    const byId = new Map();
    for (const pipeline of pipelines) {
      for (const queue of pipeline.queues || []) for (const item of queue.items || []) byId.set(item.id, item);
    }
    let previous = this.noMatch;
    for (const pipeline of pipelines) {
      const view = this.pipeline(pipeline);
      if (previous.nextSibling !== view.node) previous.after(view.node);
      previous = view.node;
      this.fillPipeline(view, pipeline, byId, seen);
    }
    for (const [name, view] of this.pipelines) {
      if (!pipelines.some((p) => p.name === name)) {
        view.node.remove();
        this.pipelines.delete(name);
      }
    }
    for (const [id, entry] of this.items) {
      if (!seen.has(id) && !entry.finished) this.finish(id, entry);
    }
    this.applyFilter();
  }

  pipeline(pipeline) {
    let view = this.pipelines.get(pipeline.name);
    if (view) {
      view.manager.textContent = pipeline.manager || "";
      return view;
    }
    const key = COLLAPSED + pipeline.name;
    const toggle = h("button", { type: "button", class: "pipeline-toggle", "data-testid": "pipeline-toggle" });
    const counter = h("span", { class: "muted pipeline-count" });
    const manager = h("span", { class: "tag" }, pipeline.manager || "");
    const list = h("div", { class: "pipeline-body" });
    const node = h(
      "section",
      { class: "card pipeline", "data-testid": "pipeline", "data-pipeline": pipeline.name },
      h("div", { class: "pipeline-head" }, toggle, manager, counter),
      list,
    );
    const setCollapsed = (collapsed) => {
      list.hidden = collapsed;
      node.classList.toggle("collapsed", collapsed);
      toggle.setAttribute("aria-expanded", String(!collapsed));
      toggle.textContent = `${collapsed ? "▸" : "▾"} ${pipeline.name}`;
    };
    toggle.addEventListener("click", () => {
      const collapsed = !list.hidden;
      setCollapsed(collapsed);
      try {
        if (collapsed) localStorage.setItem(key, "1");
        else localStorage.removeItem(key);
      } catch {
        /* storage may be disabled: the toggle still works for this visit */
      }
    });
    let stored = false;
    try {
      stored = localStorage.getItem(key) === "1";
    } catch {
      stored = false;
    }
    setCollapsed(stored);
    view = { node, list, counter, manager, queues: new Map() };
    this.pipelines.set(pipeline.name, view);
    return view;
  }

  fillPipeline(view, pipeline, byId, seen) {
    const queues = pipeline.queues || [];
    const titled = queues.length > 1 || queues.some((q) => q.name !== pipeline.name);
    const dependent = pipeline.manager === "dependent";
    let previousQueue = null;
    for (const queue of queues) {
      let holder = view.queues.get(queue.name);
      if (!holder) {
        holder = {
          node: h("div", { class: "queue" }, h("h3", { class: "queue-name" }, queue.name)),
          items: h("div", { class: "queue-items" }),
        };
        holder.node.append(holder.items);
        view.queues.set(queue.name, holder);
      }
      holder.node.firstChild.hidden = !titled;
      if (previousQueue ? previousQueue.nextSibling !== holder.node : view.list.firstChild !== holder.node) {
        if (previousQueue) previousQueue.after(holder.node);
        else view.list.prepend(holder.node);
      }
      previousQueue = holder.node;
      const items = queue.items || [];
      const numbered = dependent || items.some((item) => item.ahead);
      items.forEach((item, index) => {
        const ahead = item.ahead ? byId.get(item.ahead) : null;
        const place = {
          position: index + 1,
          numbered,
          aheadLabel: item.ahead ? (ahead ? `${ahead.project} ${changeLabel(ahead)}` : item.ahead) : null,
        };
        const entry = this.item(item, place);
        seen.add(item.id);
        const expected = holder.items.children[index];
        if (expected !== entry.node) holder.items.insertBefore(entry.node, expected || null);
      });
      holder.total = items.length;
    }
    for (const [name, holder] of view.queues) {
      if (!queues.some((q) => q.name === name)) {
        holder.node.remove();
        view.queues.delete(name);
      }
    }
  }

  item(item, place) {
    const sig = signature(item, place);
    const old = this.items.get(item.id);
    if (old && old.finished) clearTimeout(old.finished);
    if (old && old.sig === sig && !old.finished) {
      for (const run of old.running) run.job.elapsed = jobElapsed(item, run.job.name, run);
      return old;
    }
    const entry = itemCard(item, place, this.clock);
    entry.sig = sig;
    entry.text = haystack(item);
    entry.item = item;
    entry.place = place;
    if (old) old.node.replaceWith(entry.node);
    this.items.set(item.id, entry);
    return entry;
  }

  /** An item left the queue: show its final results for a while (read from its buildset), then drop it. */
  finish(id, entry) {
    entry.finished = setTimeout(() => {
      if (this.items.get(id) === entry) {
        entry.node.remove();
        this.items.delete(id);
        this.applyFilter();
      }
    }, LINGER);
    entry.running = [];
    entry.node.classList.add("finished");
    if (!entry.item || !entry.item.buildset) return;
    getJSON(`buildset/${seg(entry.item.buildset)}`)
      .then((set) => {
        if (this.items.get(id) !== entry) return;
        const builds = new Map((set.builds || []).map((build) => [build.job, build]));
        const jobs = (entry.item.jobs || []).map((job) => {
          const build = builds.get(job.name);
          if (!build) return job;
          return { ...job, state: build.state, result: build.result, elapsed: build.duration };
        });
        const item = { ...entry.item, jobs, state: "finished", result: set.result };
        const card = itemCard(item, entry.place, this.clock);
        card.node.classList.add("finished");
        card.node.hidden = entry.node.hidden;
        entry.node.replaceWith(card.node);
        Object.assign(entry, { node: card.node, running: [], age: card.age });
      })
      .catch(() => {
        /* the item still shows as finished, without its final results */
      });
  }

  applyFilter() {
    const needle = this.filter.trim().toLowerCase();
    let shown = 0;
    let total = 0;
    for (const entry of this.items.values()) {
      const visible = !needle || entry.text.includes(needle);
      entry.node.hidden = !visible;
      if (entry.finished) continue;
      total += 1;
      if (visible) shown += 1;
    }
    for (const view of this.pipelines.values()) {
      let live = 0;
      let visible = 0;
      for (const holder of view.queues.values()) {
        for (const node of holder.items.children) {
          if (node.classList.contains("finished")) continue;
          live += 1;
          if (!node.hidden) visible += 1;
        }
      }
      view.counter.textContent = needle ? `${visible} of ${live} items` : `${live} ${live === 1 ? "item" : "items"}`;
    }
    this.count.textContent = `${shown} of ${total} ${total === 1 ? "item" : "items"}`;
    this.empty.hidden = !this.started || this.items.size > 0;
    this.noMatch.hidden = !(total > 0 && shown === 0);
    this.noMatch.textContent = `No items match "${this.filter.trim()}".`;
  }

  tick() {
    const clock = this.clock;
    for (const entry of this.items.values()) {
      if (!entry.node.hidden) tick(entry, clock);
    }
  }
}

/** A running job's elapsed time from the latest message (used when it has no start time). */
function jobElapsed(item, name, run) {
  const job = (item.jobs || []).find((j) => j.name === name);
  if (job && typeof job.elapsed === "number") {
    run.receivedAt = Date.now() / 1000;
    return job.elapsed;
  }
  return run.job.elapsed;
}
