// One item of the status page: its change, its place in the queue, and its jobs with progress bars.
// The card is built once per change of the item's data; the progress bars and times move with
// `tick`, which needs no rebuild (see pages/status.js).
import { h, link } from "./dom.js";
import { FAILED, badge, changeLabel, duration, shortRev, when } from "./format.js";
import { seg } from "./api.js";
import { authorName } from "./buildrows.js";

/** The item without what moves every second: equal signatures mean the card needs no redraw. */
export function signature(item, extra) {
  const jobs = (item.jobs || []).map(({ elapsed, ...rest }) => rest);
  return JSON.stringify([{ ...item, jobs }, extra]);
}

/** Lower-case text the filter box searches: project, change, job names, author. */
export function haystack(item) {
  const jobs = (item.jobs || []).map((job) => job.name);
  return [item.project, changeLabel(item), item.change, item.ref, item.newrev, item.author, ...jobs]
    .filter(Boolean)
    .join("\n")
    .toLowerCase();
}

/**
 * Build the card. `place` = {position (1-based), numbered, aheadLabel};
 * `clock` = {serverNow()} gives the server's time now.
 * Returns {node, running: [progress entries], age} for `tick`.
 */
export function itemCard(item, place, clock) {
  const running = [];
  const age = h("span", { class: "item-age muted" });
  const head = h(
    "div",
    { class: "item-head" },
    place.numbered
      ? h("span", { class: "item-position" }, place.position === 1 ? "#1 (head)" : `#${place.position}`)
      : null,
    h("span", { class: "item-project" }, item.project ? link(`/project/${seg(item.project)}`, item.project) : "–"),
    changeLink(item),
    item.branch ? h("span", { class: "item-branch muted" }, item.branch) : null,
    item.author ? h("span", { class: "item-author", title: item.author }, authorName(item.author)) : null,
    item.result ? badge(item.result) : item.state && item.state !== "active" ? badge(null, item.state) : null,
    h("span", { class: "item-spacer" }),
    h("span", { class: "item-enqueued muted", title: `enqueued ${when(item.enqueue_time)}` }, "enqueued ", age),
    item.buildset ? link(`/buildset/${seg(item.buildset)}`, "buildset") : null,
  );
  const ahead = place.aheadLabel
    ? h("div", { class: "item-ahead muted" }, "tested on top of ", h("span", { class: "mono" }, place.aheadLabel))
    : null;
  const jobs = h("ul", { class: "item-jobs" }, (item.jobs || []).map((job) => jobRow(job, running)));
  const failing = (item.jobs || []).some((job) => job.voting !== false && FAILED.has(job.result));
  const node = h(
    "article",
    { class: failing ? "item failing" : "item", "data-testid": "item", "data-item": item.id },
    head,
    ahead,
    jobs,
  );
  const entry = { node, running, age, enqueued: item.enqueue_time };
  tick(entry, clock);
  return entry;
}

function changeLink(item) {
  if (item.change) {
    return link(`/builds?change=${encodeURIComponent(item.change)}`, h("span", { class: "mono" }, changeLabel(item)));
  }
  // A pushed ref or branch tip: the branch is shown next to it, so name the revision.
  const label = item.newrev ? shortRev(item.newrev) : changeLabel(item);
  return h("span", { class: "mono item-change", title: [item.ref, item.newrev].filter(Boolean).join(" ") }, label);
}

function jobRow(job, running) {
  const name = job.build ? link(`/build/${seg(job.build)}`, job.name) : h("span", {}, job.name);
  const cells = [
    badge(job.result, job.state),
    h("span", { class: "job-name" }, name),
    job.voting === false ? h("span", { class: "tag", title: "its result does not count" }, "non-voting") : null,
  ];
  if (job.state === "running" && !job.result) {
    const bar = h("div", { class: "bar" });
    const progress = h(
      "div",
      { class: "progress", "data-testid": "progress", role: "progressbar", "aria-label": `${job.name} progress` },
      bar,
    );
    const eta = h("span", { class: "eta muted", "data-testid": "eta" });
    running.push({ job, progress, bar, eta, receivedAt: Date.now() / 1000 });
    cells.push(progress, eta);
  } else if (job.result) {
    cells.push(h("span", { class: "muted job-duration" }, job.elapsed !== null && job.elapsed !== undefined ? duration(job.elapsed) : ""));
  }
  return h("li", { class: "job", "data-testid": "job", "data-job": job.name }, cells);
}

/** Move the progress bars and times of one card to the server's time now. */
export function tick(entry, clock) {
  const now = clock.serverNow();
  if (entry.enqueued) entry.age.textContent = `${duration(now - entry.enqueued)} ago`;
  for (const run of entry.running) {
    const { job } = run;
    const elapsed = job.start_time
      ? Math.max(0, now - job.start_time)
      : (job.elapsed || 0) + Date.now() / 1000 - run.receivedAt;
    if (job.estimated && job.estimated > 0) {
      const fraction = Math.min(1, elapsed / job.estimated);
      run.progress.classList.remove("indeterminate");
      run.bar.style.width = `${(fraction * 100).toFixed(1)}%`;
      run.progress.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      const left = job.estimated - elapsed;
      run.eta.textContent = left >= 0 ? `~${duration(left)} left` : `overdue · ${duration(elapsed)}`;
      run.eta.classList.toggle("overdue", left < 0);
      run.eta.title = `${duration(elapsed)} of about ${duration(job.estimated)}`;
    } else {
      run.progress.classList.add("indeterminate");
      run.bar.style.width = "";
      run.progress.removeAttribute("aria-valuenow");
      run.eta.textContent = `${duration(elapsed)} elapsed`;
      run.eta.title = "no estimate yet: this job has no recent successful builds";
    }
  }
}
