'use strict';

// The HTML report: one self-contained file (no script, no network, no
// library): the charts are SVG drawn here, from samples downsampled to at most
// MAX_POINTS per series, so a one-hour run opens as fast as a short one.

const { formatBytes, formatDuration, PART_LABELS, trends } = require('./verdict.js');

const MAX_POINTS = 600;
const W = 920;
const H = 210;
const PAD = { l: 64, r: 12, t: 10, b: 24 };
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#86bcb6', '#d37295'];
const PART_COLORS = {
  v8HeapUsed: '#4e79a7',
  v8HeapFree: '#a0cbe8',
  arrayBuffers: '#f28e2b',
  externalOther: '#ffbe7d',
  native: '#e15759',
  mallocOther: '#59a14f',
  mallocFree: '#8cd17d',
  files: '#b6992d',
  shmem: '#f1ce63',
  stack: '#499894',
  unexplained: '#bab0ac',
};

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** Indices of buckets: [[start, end), ...], at most MAX_POINTS of them. */
function buckets(n) {
  const count = Math.min(n, MAX_POINTS);
  const out = [];
  for (let i = 0; i < count; i++) out.push([Math.floor((i * n) / count), Math.floor(((i + 1) * n) / count)]);
  return out;
}

/** The mean of fn(sample) over each bucket. */
function downsample(samples, fn, bs) {
  return bs.map(([a, b]) => {
    let s = 0;
    for (let i = a; i < b; i++) s += fn(samples[i]);
    return s / (b - a);
  });
}

// Time-axis steps (ms) that read well: 1 2 5 ms ... 10 15 30 s, 1 2 5 10 15 30 min, 1 2 3 6 12 24 h.
const TIME_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3];

function niceStep(max, ticks) {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function axisBytes(max) {
  const MiB = 1024 * 1024;
  const unit = max >= 4 * 1024 * MiB ? 1024 * MiB : max >= 4 * MiB ? MiB : 1024;
  const step = niceStep(max / unit, 4) * unit;
  return { step, label: (v) => formatBytes(v) };
}

/**
 * A chart: layers stacked (stack: true) or drawn as lines; marks: [{t, h (0..1), title}].
 * series: [{name, label, color, ys}] over xs (ms).
 */
function chart({ id, title, xs, series, stack, lines = [], marks = [], unit = 'bytes', note = '' }) {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x0 = xs[0] || 0;
  const span = Math.max(1, (xs[xs.length - 1] || 0) - x0);
  const n = xs.length;
  const tops = [];
  let max = 1;
  const cum = new Array(n).fill(0);
  for (const s of series) {
    const base = cum.slice();
    const top = s.ys.map((y, i) => (stack ? cum[i] + Math.max(0, y) : Math.max(0, y)));
    if (stack) for (let i = 0; i < n; i++) cum[i] = top[i];
    tops.push({ s, base, top });
    for (const v of top) if (v > max) max = v;
  }
  for (const l of lines) for (const v of l.ys) if (v > max) max = v;
  if (unit === 'bytes' && max < 1024 * 1024) max = 1024 * 1024; // an empty or tiny chart still has a readable axis
  const ax = unit === 'bytes' ? axisBytes(max) : { step: Math.max(1, Math.ceil(niceStep(max, 4))), label: (v) => String(Math.round(v)) };
  max = Math.ceil(max / ax.step) * ax.step;
  const X = (t) => (PAD.l + ((t - x0) / span) * iw).toFixed(1);
  const Y = (v) => (PAD.t + ih - (v / max) * ih).toFixed(1);
  const parts = [];
  parts.push(`<svg id="${esc(id)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  for (let v = 0; v <= max + 1e-9; v += ax.step) {
    parts.push(`<line class="grid" x1="${PAD.l}" x2="${W - PAD.r}" y1="${Y(v)}" y2="${Y(v)}"/><text class="tick" x="${PAD.l - 6}" y="${Number(Y(v)) + 4}" text-anchor="end">${esc(ax.label(v))}</text>`);
  }
  const tStep = TIME_STEPS.find((step) => step >= span / 6) || TIME_STEPS[TIME_STEPS.length - 1];
  for (let t = 0; t <= span + 1e-9; t += tStep) {
    parts.push(`<text class="tick" x="${X(x0 + t)}" y="${H - 6}" text-anchor="middle">${esc(formatDuration(t))}</text>`);
  }
  for (const { s, base, top } of tops) {
    if (stack) {
      let d = `M${X(xs[0])},${Y(top[0])}`;
      for (let i = 1; i < n; i++) d += `L${X(xs[i])},${Y(top[i])}`;
      for (let i = n - 1; i >= 0; i--) d += `L${X(xs[i])},${Y(base[i])}`;
      parts.push(`<path class="series" data-series="${esc(s.name)}" d="${d}Z" fill="${s.color}" fill-opacity="0.85"><title>${esc(s.label)}: ${esc(formatBytes(s.ys[n - 1]))} at the end</title></path>`);
    } else {
      lines.push({ ...s, ys: top });
    }
  }
  for (const l of lines) {
    let d = `M${X(xs[0])},${Y(l.ys[0])}`;
    for (let i = 1; i < n; i++) d += `L${X(xs[i])},${Y(l.ys[i])}`;
    const label = unit === 'bytes' ? formatBytes(l.ys[n - 1]) : String(Math.round(l.ys[n - 1]));
    parts.push(`<path class="series line" data-series="${esc(l.name)}" d="${d}" fill="none" stroke="${l.color}" stroke-width="${l.width || 1.6}"${l.dash ? ' stroke-dasharray="4 3"' : ''}><title>${esc(l.label)}: ${esc(label)} at the end</title></path>`);
  }
  if (marks.length) {
    parts.push('<g class="marks" data-series="gc">');
    for (const m of marks) {
      const x = X(Math.min(Math.max(m.t, x0), x0 + span));
      parts.push(`<line class="gc" x1="${x}" x2="${x}" y1="${PAD.t + ih}" y2="${(PAD.t + ih - Math.max(3, m.h * ih * 0.25)).toFixed(1)}"><title>${esc(m.title)}</title></line>`);
    }
    parts.push('</g>');
  }
  parts.push(`<line class="axis" x1="${PAD.l}" x2="${W - PAD.r}" y1="${PAD.t + ih}" y2="${PAD.t + ih}"/></svg>`);
  const legend = [...series, ...lines.filter((l) => !series.includes(l) && !series.some((s) => s.name === l.name))]
    .map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.label)}</span>`)
    .join('');
  return `<section class="panel"><h2>${esc(title)}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}<div class="legend">${legend}${marks.length ? '<span class="key"><i class="gckey"></i>GC pause (height: duration)</span>' : ''}</div>${parts.join('')}</section>`;
}

/** GC events merged per pixel column: at most one mark per column, the longest pause. */
function gcMarks(gc, x0, span) {
  const iw = W - PAD.l - PAD.r;
  const cols = new Map();
  let maxMs = 0;
  for (const [t, ms, kind] of gc) {
    const col = Math.round(((t - x0) / Math.max(1, span)) * iw);
    const prev = cols.get(col);
    if (!prev || prev.ms < ms) cols.set(col, { t, ms, kind, count: (prev ? prev.count : 0) + 1 });
    else prev.count++;
    if (ms > maxMs) maxMs = ms;
  }
  return [...cols.values()].map((m) => ({
    t: m.t,
    h: maxMs ? m.ms / maxMs : 0,
    title: `${m.kind} GC ${m.ms.toFixed(2)} ms at ${formatDuration(m.t)}${m.count > 1 ? ` (${m.count} GCs here)` : ''}`,
  }));
}

function table(headers, rows, cls = '') {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return `<table class="${cls}"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${i > 0 && typeof c === 'number' ? ' class="num"' : ''}>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#5b6475;--bg:#f6f7f9;--card:#fff;--line:#e3e6eb}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:18px 28px 14px;background:var(--card);border-bottom:1px solid var(--line)}
h1{font-size:15px;font-weight:600;margin:0 0 8px;color:var(--muted)}h1 b{color:var(--fg)}
#verdict{font-size:20px;font-weight:600;margin:0;padding:10px 14px;border-radius:8px;border-left:6px solid}
#verdict.leak{background:#fdecec;border-color:#d62728}#verdict.growth{background:#fff4e0;border-color:#f28e2b}#verdict.ok,#verdict.empty{background:#e9f6ec;border-color:#2ca02c}
.meta{color:var(--muted);margin:8px 0 0;font-size:13px}.meta span{margin-right:18px}
main{padding:14px 28px 40px;display:grid;grid-template-columns:minmax(0,960px);gap:14px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
h2{font-size:15px;margin:0 0 6px}.note{margin:0 0 6px;color:var(--muted);font-size:12.5px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin-bottom:4px}
.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.gckey{background:#d62728;width:2px!important}
svg.chart{display:block;width:100%;height:auto}.grid{stroke:#eef0f3}.axis{stroke:#9aa3b2}
.tick{font-size:11px;fill:#7a8394}.gc{stroke:#d62728;stroke-width:1;opacity:.6}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:600}td{white-space:nowrap}td:last-child{white-space:normal}td.num{text-align:right;font-variant-numeric:tabular-nums}.none{color:var(--muted)}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
`;

/** The report as one HTML string. */
function renderHtml(report) {
  const samples = report.samples;
  const v = report.verdict;
  const bs = buckets(samples.length);
  const xs = downsample(samples, (s) => s.t, bs);
  const x0 = xs[0] || 0;
  const span = (xs[xs.length - 1] || 0) - x0;
  const sections = [];
  if (samples.length >= 2) {
    const partNames = Object.keys(PART_COLORS);
    const rssSeries = partNames.map((name) => ({
      name: `part:${name}`,
      label: PART_LABELS[name],
      color: PART_COLORS[name],
      ys: downsample(samples, (s) => s.parts[name], bs),
    }));
    sections.push(chart({
      id: 'chart-rss',
      title: 'RSS explained',
      note: 'Resident memory split as mw.explain() does; the line is the RSS. A negative unexplained remainder is drawn as 0.',
      xs,
      series: rssSeries,
      stack: true,
      lines: [{ name: 'rss', label: 'RSS', color: '#1d2330', width: 1.4, dash: true, ys: downsample(samples, (s) => s.rss, bs) }],
    }));
    const marks = gcMarks(report.gc || [], x0, span);
    sections.push(chart({
      id: 'chart-heap',
      title: 'V8 heap',
      xs,
      series: [{ name: 'heapUsed', label: 'used', color: '#4e79a7', ys: downsample(samples, (s) => s.heapUsed, bs) }],
      stack: true,
      lines: [{ name: 'heapTotal', label: 'total', color: '#1f3b63', ys: downsample(samples, (s) => s.heapTotal, bs) }],
      marks,
    }));
    const tagTotals = new Map();
    for (const s of samples) for (const [name, b] of Object.entries(s.native)) tagTotals.set(name, Math.max(tagTotals.get(name) || 0, b));
    for (const t of (report.end && report.end.tags) || []) if (!tagTotals.has(t.name)) tagTotals.set(t.name, 0);
    const tagNames = [...tagTotals.keys()].sort((a, b) => tagTotals.get(b) - tagTotals.get(a));
    const shown = tagNames.slice(0, 10);
    const rest = tagNames.slice(10);
    const tagSeries = shown.map((name, i) => ({ name: `tag:${name}`, label: name, color: PALETTE[i % PALETTE.length], ys: downsample(samples, (s) => s.native[name] || 0, bs) }));
    if (rest.length) tagSeries.push({ name: 'tag:(other)', label: `${rest.length} other tags`, color: '#bab0ac', ys: downsample(samples, (s) => rest.reduce((a, n) => a + (s.native[n] || 0), 0), bs) });
    if (tagSeries.length === 0) tagSeries.push({ name: 'tag:(none)', label: 'no tracked native memory', color: '#bab0ac', ys: xs.map(() => 0) });
    sections.push(chart({ id: 'chart-native', title: 'Native memory by tag', xs, series: tagSeries, stack: true }));
    sections.push(chart({
      id: 'chart-external',
      title: 'External memory (as V8 counts it)',
      xs,
      series: [
        { name: 'arrayBuffers', label: 'ArrayBuffers and Buffers', color: '#f28e2b', ys: downsample(samples, (s) => s.arrayBuffers, bs) },
        { name: 'externalRest', label: 'other external (addons, strings)', color: '#ffbe7d', ys: downsample(samples, (s) => Math.max(0, s.external - s.arrayBuffers), bs) },
      ],
      stack: true,
    }));
    const haveFin = samples.some((s) => s.finalizersLive !== null);
    sections.push(chart({
      id: 'chart-finalizers',
      title: 'Finalizers live and active handles',
      xs,
      unit: 'count',
      series: [],
      lines: [
        { name: 'finalizersLive', label: 'finalizers live', color: '#b07aa1', ys: downsample(samples, (s) => s.finalizersLive || 0, bs) },
        { name: 'handles', label: 'active handles and requests', color: '#76b7b2', ys: downsample(samples, (s) => s.handles || 0, bs) },
      ],
      note: haveFin ? '' : 'No finalizer counts were recorded.',
    }));
  }
  const end = report.end || {};
  const tr = samples.length >= 2 ? trends(samples) : [];
  const growthOf = (name) => tr.find((t) => t.kind === 'tag' && t.name === name);
  sections.push(`<section class="panel"><h2>Top tags</h2>${table(
    ['tag', 'live at exit', 'peak', 'blocks', 'growth over the run', 'steadiness (R²)'],
    (end.tags || []).slice(0, 20).map((t) => {
      const g = growthOf(t.name);
      return [t.name, formatBytes(t.currBytes), formatBytes(t.peakBytes), t.currBlocks, g ? formatBytes(g.growth) : '-', g ? g.r2.toFixed(2) : '-'];
    }),
  )}</section>`);
  sections.push(`<section class="panel"><h2>Top allocation sites</h2>${table(
    ['site', 'function', 'tag', 'live', 'blocks', 'allocated in all'],
    (end.sites || []).slice(0, 20).map((s) => [s.file ? `${s.file}:${s.line}` : '(no site)', s.function || '', s.tag, formatBytes(s.currBytes), s.currBlocks, formatBytes(s.totalBytes)]),
  )}</section>`);
  sections.push(`<section class="panel"><h2>Top constructors (JS heap)</h2>${
    report.constructors && report.constructors.length
      ? table(['constructor', 'count', 'bytes'], report.constructors.slice(0, 20).map((c) => [c.name, c.count, formatBytes(c.bytes)]))
      : '<p class="none">Not recorded in this run (needs native-memwatch\'s heap diff).</p>'
  }</section>`);
  sections.push(`<section class="panel"><h2>Leak events</h2>${table(
    ['at', 'kind', 'tag', 'growth', 'reason'],
    (report.leaks || []).map((l) => [formatDuration(l.t), l.info.kind || '', l.info.tag || '', Number.isFinite(l.info.growth) ? formatBytes(l.info.growth) : '', l.info.reason || '']),
  )}${report.features && !report.features.leakEvents ? '<p class="note">This build of native-memwatch has no leak events (mw.on(\'leak\')); the verdict above comes from the samples.</p>' : ''}</section>`);
  const last = end.explain;
  if (last) {
    sections.push(`<section class="panel"><h2>RSS at exit, explained</h2>${table(
      ['part', 'bytes', 'source'],
      Object.entries(last.parts).map(([name, p]) => [PART_LABELS[name] || name, formatBytes(p.bytes), p.source]),
    )}</section>`);
  }
  const exitText = report.exit ? (report.exit.signal ? `signal ${report.exit.signal}` : `exit code ${report.exit.code}`) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>native-memwatch report: ${esc((report.command || []).join(' '))}</title><style>${CSS}</style></head>
<body><header><h1>native-memwatch · <b>${esc((report.command || []).join(' '))}</b></h1>
<p id="verdict" class="${esc(v.level)}" data-level="${esc(v.level)}">${esc(v.text)}</p>
<p class="meta"><span>pid ${esc(report.pid)}</span><span>${esc(formatDuration(report.durationMs || 0))}</span><span>${esc(samples.length)} samples every ${esc(report.intervalMs)} ms</span><span>${esc((report.gc || []).length)} GCs</span><span>${esc(exitText)}</span><span>${esc(report.node || '')}</span><span>${esc(new Date(report.startTime || 0).toISOString())}</span></p></header>
<main>${sections.join('\n')}</main></body></html>
`;
}

module.exports = { renderHtml, MAX_POINTS };
