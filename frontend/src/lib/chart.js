// A small line chart as inline SVG, built with DOM calls (text goes in as text nodes only).
// The chart is an image with a title and a description; callers also show the data as a table.

const SVG = 'http://www.w3.org/2000/svg';
let chartCount = 0;

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  if (text !== undefined) el.textContent = String(text);
  return el;
}

function trimZeros(text) {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** Round numbers for axis ticks: about `count` steps of 1, 2 or 5 × 10^n covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= raw) ?? 10 * magnitude;
  const ticks = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

/** The y range shown: [0, 1] narrowed to the data with some margin, on tick-friendly bounds. */
export function yRange(values, { min = 0, max = 1 } = {}) {
  if (!values.length) return [min, max];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.25, 0.02);
  const step = 0.05;
  return [Math.max(min, Math.floor((lo - pad) / step) * step), Math.min(max, Math.ceil((hi + pad) / step) * step)];
}

/**
 * A line chart of `points` ([{x, y, label}], x ascending integers such as round numbers).
 * Returns an <svg role="img"> labelled by its <title> and described by its <desc>.
 *
 * @param {object} opts
 * @param {Array<{x: number, y: number, label?: string}>} opts.points
 * @param {string} opts.title  accessible name
 * @param {string} opts.description  text alternative (what the chart shows, in words)
 * @param {string} opts.xLabel
 * @param {string} opts.yLabel
 * @param {(y: number) => string} [opts.format]  value labels
 */
export function lineChart({ points, title, description, xLabel, yLabel, format = (y) => y.toFixed(3), testid }) {
  chartCount += 1;
  const id = `chart-${chartCount}`;
  const width = 640;
  const height = 300;
  const m = { top: 20, right: 24, bottom: 52, left: 68 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xs = points.map((p) => p.x);
  const xMin = xs.length ? Math.min(...xs) : 1;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const [yMin, yMax] = yRange(points.map((p) => p.y));
  // half a step of room either side, so the first and last points stay clear of the axes
  const x0 = xMin - 0.5;
  const x1 = xMax + 0.5;
  const px = (x) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y) => m.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;

  const svg = s('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-desc`,
    'data-testid': testid, preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('title', { id: `${id}-title` }, title), s('desc', { id: `${id}-desc` }, description));

  // Axes, grid and ticks are decoration for sighted readers; the desc and the data table carry the data.
  const axes = s('g', { class: 'chart-axes', 'aria-hidden': 'true' });
  for (const t of niceTicks(yMin, yMax, 5)) {
    const y = py(t);
    axes.append(s('line', { class: 'chart-grid', x1: m.left, x2: m.left + plotW, y1: y, y2: y }));
    axes.append(s('text', { class: 'chart-tick', x: m.left - 8, y: y + 4, 'text-anchor': 'end' }, trimZeros(format(t))));
  }
  const xTicks = xMax - xMin <= 12 ? xs : niceTicks(xMin, xMax, 8).filter((t) => Number.isInteger(t));
  for (const t of xTicks) {
    const x = px(t);
    axes.append(s('line', { class: 'chart-tickmark', x1: x, x2: x, y1: m.top + plotH, y2: m.top + plotH + 5 }));
    axes.append(s('text', { class: 'chart-tick', x, y: m.top + plotH + 20, 'text-anchor': 'middle' }, String(t)));
  }
  axes.append(s('line', { class: 'chart-axis', x1: m.left, x2: m.left + plotW, y1: m.top + plotH, y2: m.top + plotH }));
  axes.append(s('line', { class: 'chart-axis', x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH }));
  axes.append(s('text', { class: 'chart-label', x: m.left + plotW / 2, y: height - 8, 'text-anchor': 'middle' }, xLabel));
  axes.append(s('text', {
    class: 'chart-label', x: 0, y: 0, 'text-anchor': 'middle', transform: `translate(16 ${m.top + plotH / 2}) rotate(-90)`,
  }, yLabel));
  svg.append(axes);

  const series = s('g', { class: 'chart-series', 'aria-hidden': 'true' });
  if (points.length > 1) {
    series.append(s('polyline', { class: 'chart-line', points: points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ') }));
  }
  for (const p of points) {
    const g = s('g', { class: 'chart-point', 'data-testid': 'chart-point', 'data-x': p.x, 'data-y': p.y });
    g.append(s('circle', { cx: px(p.x).toFixed(1), cy: py(p.y).toFixed(1), r: 5 }));
    g.append(s('text', { class: 'chart-value', x: px(p.x).toFixed(1), y: (py(p.y) - 10).toFixed(1), 'text-anchor': 'middle' }, format(p.y)));
    g.append(s('title', {}, p.label ?? `${p.x}: ${format(p.y)}`));
    series.append(g);
  }
  svg.append(series);
  return svg;
}
