// Small wrappers around the vendored Chart.js (window.Chart): the same colours and options on
// every page, and one `destroy()` for a page's cleanup. Without Chart.js (a blocked script) the
// boxes say so instead of breaking the page.
import { h } from "./dom.js";

export const COLORS = {
  passed: "#1a7f37",
  failed: "#cf222e",
  infra: "#9a6700",
  skipped: "#8c959f",
  line: "#0969da",
  grid: "#e3e6eb",
};

/** The colour of a build result or a test status. */
export function statusColor(status) {
  const value = String(status || "").toLowerCase();
  if (["success", "passed"].includes(value)) return COLORS.passed;
  if (["failure", "failed", "timed_out", "merge_conflict"].includes(value)) return COLORS.failed;
  if (["error", "retry_limit", "node_failure"].includes(value)) return COLORS.infra;
  return COLORS.skipped;
}

/** A titled box holding one canvas; `testid` goes on the box (the canvas is inside it). */
export function chartBox(testid, title, { height = 240 } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const frame = h("div", { class: "chart-box" }, canvas);
  frame.style.height = `${height}px`;
  const box = h("figure", { class: "chart card", "data-testid": testid }, h("figcaption", {}, title), frame);
  return { box, canvas };
}

/** "YYYY-MM-DD" of every day of the last `days` days (UTC, oldest first). */
export function windowDays(days, now = new Date()) {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const out = [];
  for (let back = days - 1; back >= 0; back--) out.push(new Date(today - back * 86400000).toISOString().slice(0, 10));
  return out;
}

/** Spread a sparse day series over the whole window: `pick(entry)` per day, `empty` where none. */
export function byDay(series, days, pick, empty = null) {
  const index = new Map((series || []).map((entry) => [entry.day, entry]));
  const labels = windowDays(days);
  return { labels, values: labels.map((day) => (index.has(day) ? pick(index.get(day)) : empty)) };
}

/** "2024-03-05" as "Mar 5". */
export function dayLabel(day) {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return day;
  return date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

/** A tick formatter for epoch-ms axes: seconds for runs within an hour, dates beyond a day. */
function timeTick(xs) {
  const span = xs.length ? Math.max(...xs) - Math.min(...xs) : 0;
  const options =
    span < 3600e3
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
      : span < 2 * 86400e3
        ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
        : { month: "short", day: "numeric" };
  return (value) => new Date(value).toLocaleString(undefined, options);
}

const percentAxis = (title) => ({
  min: 0,
  max: 100,
  title: { display: Boolean(title), text: title },
  ticks: { callback: (value) => `${value}%` },
  grid: { color: COLORS.grid },
});

function baseOptions(extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    ...extra,
  };
}

/** The charts of one page; `destroy()` in the page's cleanup. */
export function chartSet() {
  const charts = [];

  function make(canvas, config) {
    const Chart = window.Chart;
    if (!Chart) {
      canvas.replaceWith(h("p", { class: "muted" }, "Charts are unavailable (Chart.js did not load)."));
      return null;
    }
    const chart = new Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  return {
    /** Lines over category labels; `percent` plots fractions 0..1 as 0..100 %. */
    line(canvas, { labels, datasets, percent = false, yTitle = "", yFormat = null }) {
      return make(canvas, {
        type: "line",
        data: {
          labels,
          datasets: datasets.map((set) => ({
            label: set.label,
            data: percent ? set.data.map((v) => (v === null || v === undefined ? null : v * 100)) : set.data,
            borderColor: set.color || COLORS.line,
            backgroundColor: set.color || COLORS.line,
            pointRadius: 3,
            clip: false, // a point at 100 % is drawn whole, not cut by the chart's edge
            spanGaps: true,
            tension: 0.2,
          })),
        },
        options: baseOptions({
          scales: {
            y: percent
              ? percentAxis(yTitle)
              : {
                  beginAtZero: true,
                  grace: "10%",
                  title: { display: Boolean(yTitle), text: yTitle },
                  ticks: yFormat ? { callback: yFormat } : {},
                  grid: { color: COLORS.grid },
                },
            x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          },
          plugins: {
            legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
            tooltip: {
              callbacks: {
                label: (item) => {
                  const value = item.parsed.y;
                  const shown = percent ? `${value.toFixed(1)}%` : yFormat ? yFormat(value) : value;
                  return `${item.dataset.label}: ${shown}`;
                },
              },
            },
          },
        }),
      });
    },

    /** Bars; `stacked` piles the datasets, `horizontal` lays them on their side, `percent` as line. */
    bar(canvas, { labels, datasets, stacked = false, horizontal = false, percent = false, onClick = null }) {
      const valueAxis = percent
        ? { ...percentAxis(""), stacked, max: undefined, suggestedMax: 100 }
        : { beginAtZero: true, stacked, ticks: { precision: 0 }, grid: { color: COLORS.grid } };
      const labelAxis = {
        stacked,
        grid: { display: false },
        ticks: horizontal ? { autoSkip: false } : { maxRotation: 0, autoSkipPadding: 12 },
      };
      return make(canvas, {
        type: "bar",
        data: {
          labels,
          datasets: datasets.map((set) => ({
            label: set.label,
            data: percent ? set.data.map((v) => (v === null || v === undefined ? null : v * 100)) : set.data,
            backgroundColor: set.color,
            borderColor: set.color,
            maxBarThickness: 28,
          })),
        },
        options: baseOptions({
          indexAxis: horizontal ? "y" : "x",
          scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
          onClick: onClick
            ? (_event, elements) => {
                if (elements.length) onClick(elements[0].index);
              }
            : undefined,
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tooltip: {
              callbacks: percent
                ? { label: (item) => `${item.dataset.label}: ${(horizontal ? item.parsed.x : item.parsed.y).toFixed(1)}%` }
                : {},
            },
          },
        }),
      });
    },

    /** One point per run: x = time (epoch ms), y = value, each point coloured by its own status. */
    timeline(canvas, { points, yTitle = "", yFormat = null, onClick = null }) {
      return make(canvas, {
        type: "scatter",
        data: {
          datasets: [
            {
              label: yTitle,
              data: points.map((p) => ({ x: p.x, y: p.y })),
              pointBackgroundColor: points.map((p) => p.color),
              pointBorderColor: points.map((p) => p.color),
              pointRadius: 5,
              pointHoverRadius: 7,
              clip: false,
            },
          ],
        },
        options: baseOptions({
          interaction: { mode: "nearest", intersect: true },
          onClick: onClick
            ? (_event, elements) => {
                if (elements.length) onClick(elements[0].index);
              }
            : undefined,
          onHover: (event, elements) => {
            if (onClick && event.native) event.native.target.style.cursor = elements.length ? "pointer" : "default";
          },
          scales: {
            x: {
              type: "linear",
              ticks: { maxTicksLimit: 8, maxRotation: 0, callback: timeTick(points.map((p) => p.x)) },
              grid: { color: COLORS.grid },
            },
            y: {
              beginAtZero: true,
              grace: "10%",
              title: { display: Boolean(yTitle), text: yTitle },
              ticks: yFormat ? { callback: yFormat } : {},
              grid: { color: COLORS.grid },
            },
          },
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: (item) => points[item.dataIndex].label } },
          },
        }),
      });
    },

    destroy() {
      for (const chart of charts.splice(0)) chart.destroy();
    },
  };
}
