// Small formatting helpers shared by the pages.
import { h } from "./dom.js";

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${secs}s`;
  return `${secs}s`;
}

// One formatter for every date: toLocaleString with options builds a new one per call, which
// cost a fifth of a second on a status page of 500 items.
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const DATE_TIME_SECONDS = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function formatted(formatter, value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return formatter.format(date);
}

/** An ISO string or epoch seconds, as local date and time. */
export function when(value) {
  return formatted(DATE_TIME, value);
}

/** The same with its seconds (node events come seconds apart). */
export function exactTime(value) {
  return formatted(DATE_TIME_SECONDS, value);
}

export function percent(rate) {
  if (rate === null || rate === undefined) return "–";
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 1 : 0)}%`;
}

/** A coloured badge for a build result or state (the class names match app.css). */
export function badge(result, state) {
  const text = result || state || "waiting";
  return h("span", { class: `badge result-${String(text).replace(/[^A-Za-z_]/g, "")}` }, text);
}

export function shortRev(rev) {
  return rev ? String(rev).slice(0, 10) : "–";
}

/** "12345,3" for a Gerrit change and patchset; the ref or revision otherwise. */
export function changeLabel(row) {
  if (row.change) return row.patchset ? `${row.change},${row.patchset}` : String(row.change);
  if (row.ref) return row.ref.replace(/^refs\/heads\//, "");
  return shortRev(row.newrev);
}

export const INFRA = new Set(["ERROR", "RETRY_LIMIT", "NODE_FAILURE"]);
export const FAILED = new Set(["FAILURE", "TIMED_OUT", "MERGE_CONFLICT"]);
