// A build's console log: one element per line with an anchor (`#L42`), the whole text for a
// finished build (the last lines first when it is big), or followed live over server-sent events
// while the build runs, scrolling with it until the reader scrolls up.
import { seg } from "./api.js";
import { h, message, replace } from "./dom.js";
import { parse, stream } from "./live.js";

const SHOWN = 5000; // lines shown at first for a finished build; "show all" renders the rest
const LIVE_MAX = 20000; // a live log keeps this many lines on the page
const STAMP = /^(\d{4}-\d\d-\d\d )(\d\d:\d\d:\d\d(?:\.\d{1,3})?)\d* \| /;

/**
 * {node, start(), close()}. `start` resolves once a finished build's log is on the page (so the
 * router's #L scroll finds its line) or once a running build's stream is opened; `onStart()` runs
 * at the first line of a followed build, `onEnd(summary)` when it ends.
 */
export function consoleLog(uuid, { running, onEnd, onStart }) {
  const raw = `/api/build/${seg(uuid)}/log`;
  const lines = h("div", { class: "log-lines", role: "log", tabindex: "0" });
  const status = h("span", { class: "muted log-status" });
  const follow = h("button", { type: "button", "data-testid": "follow", "aria-pressed": "true", hidden: !running });
  const showAll = h("button", { type: "button", "data-testid": "log-show-all", hidden: true });
  const node = h(
    "section",
    { class: "card log-card", "data-testid": "log", id: "log" },
    h(
      "div",
      { class: "log-head" },
      h("h2", {}, "Console log"),
      status,
      h("span", { class: "item-spacer" }),
      showAll,
      follow,
      h("a", { href: raw }, "raw"),
    ),
    lines,
  );

  let following = running;
  let count = 0; // lines received (numbering)
  let received = 0; // lines received on the current connection (a reconnect replays the log)
  let pending = [];
  let flushTimer = null;
  let highlighted = null;
  let wanted = null; // a #L line not on the page yet
  let events = null;
  let closed = false;
  let allLines = null; // a finished build's lines, when not all are shown

  const setFollowing = (value) => {
    following = value;
    follow.setAttribute("aria-pressed", String(value));
    follow.textContent = value ? "Following ✓" : "Follow";
    follow.title = value ? "the log scrolls as lines arrive; scroll up to stop" : "scroll with new lines";
    if (value) lines.scrollTop = lines.scrollHeight;
  };
  setFollowing(running);
  follow.addEventListener("click", () => setFollowing(!following));
  lines.addEventListener("scroll", () => {
    if (!running || follow.hidden) return;
    const atBottom = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 24;
    if (atBottom !== following) setFollowing(atBottom);
  });
  lines.addEventListener("click", (event) => {
    const anchor = event.target.closest("a.ln");
    if (!anchor || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    history.pushState(history.state, "", anchor.getAttribute("href"));
    highlight(false);
  });
  const onHash = () => highlight(true);
  window.addEventListener("popstate", onHash);
  window.addEventListener("hashchange", onHash);

  function lineNode(number, text) {
    const stamp = STAMP.exec(text);
    return h(
      "div",
      { class: "log-line", id: `L${number}`, "data-testid": "log-line" },
      h("a", { class: "ln", href: `#L${number}`, "aria-label": `line ${number}` }, String(number)),
      stamp ? h("span", { class: "ts", title: `${stamp[1]}${stamp[2]}` }, stamp[2]) : null,
      h("span", { class: "lt" }, stamp ? text.slice(stamp[0].length) : text),
    );
  }

  function highlight(scroll) {
    const found = /^#L(\d+)$/.exec(location.hash);
    if (highlighted) highlighted.classList.remove("highlight");
    highlighted = null;
    wanted = null;
    if (!found) return;
    const number = Number(found[1]);
    let line = document.getElementById(`L${number}`);
    if (!line && allLines && number <= allLines.length) {
      renderAll();
      line = document.getElementById(`L${number}`);
    }
    if (!line) {
      wanted = number;
      return;
    }
    line.classList.add("highlight");
    highlighted = line;
    if (running && following) setFollowing(false);
    if (scroll) line.scrollIntoView({ block: "center" });
  }

  function flush() {
    flushTimer = null;
    if (!pending.length) return;
    // Following keeps the box at the bottom: away from it now means the reader scrolled up and
    // the scroll event has not come yet.
    if (following && lines.scrollHeight - lines.scrollTop - lines.clientHeight >= 24) setFollowing(false);
    const fragment = document.createDocumentFragment();
    for (const [number, text] of pending) fragment.appendChild(lineNode(number, text));
    pending = [];
    lines.appendChild(fragment);
    while (lines.childElementCount > LIVE_MAX) lines.firstElementChild.remove();
    status.textContent = `${count} lines`;
    if (wanted !== null && wanted <= count) highlight(true);
    else if (following) lines.scrollTop = lines.scrollHeight;
  }

  function renderAll() {
    const fragment = document.createDocumentFragment();
    allLines.forEach((text, index) => fragment.appendChild(lineNode(index + 1, text)));
    replace(lines, fragment);
    status.textContent = `${allLines.length} lines`;
    showAll.hidden = true;
    allLines = null;
  }

  async function loadText() {
    let response;
    try {
      response = await fetch(raw, { headers: { Accept: "text/plain" } });
    } catch (error) {
      replace(lines, message(`The log could not be loaded: ${error.message}`, "error"));
      return;
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).error || detail;
      } catch {
        /* not JSON */
      }
      replace(lines, message(response.status === 404 ? `No console log: ${detail}` : detail, "muted"));
      return;
    }
    const text = await response.text();
    if (closed) return;
    const all = text.split("\n");
    if (all.length && all[all.length - 1] === "") all.pop();
    count = all.length;
    if (all.length > SHOWN) {
      allLines = all;
      const first = all.length - SHOWN;
      const fragment = document.createDocumentFragment();
      for (let index = first; index < all.length; index += 1) fragment.appendChild(lineNode(index + 1, all[index]));
      replace(lines, fragment);
      status.textContent = `last ${SHOWN} of ${all.length} lines`;
      showAll.textContent = `Show all ${all.length} lines`;
      showAll.hidden = false;
      showAll.onclick = renderAll;
    } else {
      const fragment = document.createDocumentFragment();
      all.forEach((line, index) => fragment.appendChild(lineNode(index + 1, line)));
      replace(lines, fragment);
      status.textContent = all.length ? `${all.length} lines` : "empty";
    }
    highlight(true);
  }

  function followLive() {
    status.textContent = "waiting for output…";
    events = stream(`${raw}?follow=1`, {
      open() {
        received = 0;
      },
      message(text) {
        received += 1;
        if (received <= count) return; // replayed after a reconnect: already shown
        if (count === 0 && onStart) onStart();
        count += 1;
        pending.push([count, text]);
        if (!flushTimer) flushTimer = setTimeout(flush, 50);
      },
      end(data) {
        events.close();
        if (flushTimer) clearTimeout(flushTimer);
        flush();
        follow.hidden = true;
        running = false;
        status.textContent = `${count} lines · build finished`;
        if (onEnd) onEnd(parse(data) || {});
      },
      closing() {
        status.textContent = "the server is stopping; reconnecting…";
        events.reconnect();
      },
    });
  }

  return {
    node,
    async start() {
      if (running) followLive();
      else await loadText();
    },
    close() {
      closed = true;
      if (events) events.close();
      if (flushTimer) clearTimeout(flushTimer);
      window.removeEventListener("popstate", onHash);
      window.removeEventListener("hashchange", onHash);
    },
  };
}
