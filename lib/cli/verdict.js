'use strict';

// The one-line verdict of a report: which series grew, how much, how steadily.
// Computed from the samples alone (least-squares slope and R^2 per native tag
// and per part of explain()); leak events from mw.on('leak'), when the run had
// them, come first.

const MiB = 1024 * 1024;
// A series "grew" when its fitted growth over the run is at least this much...
const MIN_GROWTH_BYTES = 4 * MiB;
// ...and at least this share of its final value or of the RSS.
const MIN_GROWTH_SHARE = 0.05;
// Steady: the straight line explains at least this much of the variance.
const STEADY_R2 = 0.8;

const PART_LABELS = {
  v8HeapUsed: 'the V8 heap (used)',
  v8HeapFree: 'the V8 heap (free pages)',
  arrayBuffers: 'Buffers and ArrayBuffers',
  externalOther: 'external memory of other addons',
  native: 'tracked native memory',
  mallocOther: 'untracked malloc memory',
  mallocFree: 'free memory held by malloc',
  files: 'mapped files',
  shmem: 'shared memory',
  stack: 'the stack',
  unexplained: 'unexplained memory',
};

/** Least-squares fit of ys over xs: {slope (per x), r2, growth (fitted, over the span)}. */
function fit(xs, ys) {
  const n = xs.length;
  if (n < 3) return { slope: 0, r2: 0, growth: n ? ys[n - 1] - ys[0] : 0 };
  let sx = 0, sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n, my = sy / n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx, dy = ys[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { slope: 0, r2: 0, growth: 0 };
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, r2, growth: slope * (xs[n - 1] - xs[0]) };
}

function formatBytes(bytes) {
  const abs = Math.abs(bytes);
  if (abs >= 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GB`;
  if (abs >= MiB) return `${(bytes / MiB).toFixed(abs >= 100 * MiB ? 0 : 1)} MB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${Math.round(bytes)} B`;
}

function formatDuration(ms) {
  const fixed = (v) => (Number.isInteger(Math.round(v * 10) / 10) ? String(Math.round(v)) : v.toFixed(1));
  if (ms >= 3600e3) return `${fixed(ms / 3600e3)} h`;
  if (ms >= 60e3) return `${fixed(ms / 60e3)} min`;
  return `${fixed(ms / 1000)} s`;
}

/** Every series of the samples with its fit: native tags and explain() parts. */
function trends(samples) {
  const xs = samples.map((s) => s.t);
  const out = [];
  const tagNames = new Set();
  for (const s of samples) for (const name of Object.keys(s.native)) tagNames.add(name);
  for (const name of tagNames) {
    const ys = samples.map((s) => s.native[name] || 0);
    out.push({ kind: 'tag', name, first: ys[0], last: ys[ys.length - 1], ...fit(xs, ys) });
  }
  for (const name of Object.keys(PART_LABELS)) {
    if (name === 'native') continue; // its tags speak for it
    const ys = samples.map((s) => s.parts[name]);
    out.push({ kind: 'part', name, first: ys[0], last: ys[ys.length - 1], ...fit(xs, ys) });
  }
  const rss = samples.map((s) => s.rss);
  out.push({ kind: 'rss', name: 'rss', first: rss[0], last: rss[rss.length - 1], ...fit(xs, rss) });
  return out;
}

function seriesLabel(t) {
  if (t.kind === 'tag') return `native tag \`${t.name}\``;
  if (t.kind === 'rss') return 'RSS';
  return PART_LABELS[t.name];
}

/**
 * {level: 'leak' | 'growth' | 'ok' | 'empty', text, series, growthBytes,
 * durationMs, steady}. sites: the report's top sites (for "top site file:line").
 */
function verdict(report) {
  const samples = report.samples;
  if (samples.length < 2) {
    return { level: 'empty', text: 'Too few samples for a verdict: the run was shorter than two intervals.', series: null };
  }
  const span = samples[samples.length - 1].t - samples[0].t;
  const finalRss = samples[samples.length - 1].rss;
  const all = trends(samples);
  const candidates = all
    .filter((t) => t.kind !== 'rss')
    .filter((t) => t.growth >= MIN_GROWTH_BYTES && t.growth >= MIN_GROWTH_SHARE * Math.min(Math.max(t.last, 1), finalRss))
    .sort((a, b) => b.growth - a.growth);
  const leakEvents = report.leaks || [];
  if (leakEvents.length > 0) {
    const info = leakEvents[0].info || {};
    const label = info.tag ? `native tag \`${info.tag}\`` : info.kind || 'memory';
    const growth = Number.isFinite(info.growth) ? ` grew ${formatBytes(info.growth)}` : '';
    return {
      level: 'leak',
      text: `${label}${growth}: leak reported by native-memwatch${info.reason ? ` (${info.reason})` : ''}${topSite(report, info.tag)}`,
      series: info.tag ? `tag:${info.tag}` : null,
      growthBytes: info.growth ?? null,
      durationMs: span,
      steady: true,
    };
  }
  if (candidates.length === 0) {
    const rss = all.find((t) => t.kind === 'rss');
    return {
      level: 'ok',
      text: `No steady growth: RSS ${formatBytes(rss.first)} to ${formatBytes(rss.last)} over ${formatDuration(span)}; no native tag or memory part grew by ${formatBytes(MIN_GROWTH_BYTES)} or more.`,
      series: null,
      growthBytes: rss.growth,
      durationMs: span,
      steady: false,
    };
  }
  const top = candidates[0];
  const steady = top.r2 >= STEADY_R2;
  const where = top.kind === 'tag' ? topSite(report, top.name) : '';
  const rate = `${formatBytes((top.slope * 60000))}/min`;
  const text = steady
    ? `${capitalise(seriesLabel(top))} grew ${formatBytes(top.growth)} in ${formatDuration(span)} at a steady rate (${rate}): likely leak${where}`
    : `${capitalise(seriesLabel(top))} grew ${formatBytes(top.growth)} in ${formatDuration(span)}, unsteadily (R² ${top.r2.toFixed(2)}): growth, possibly a cache or a leak${where}`;
  return {
    level: steady ? 'leak' : 'growth',
    text,
    series: top.kind === 'tag' ? `tag:${top.name}` : `part:${top.name}`,
    growthBytes: top.growth,
    durationMs: span,
    steady,
  };
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function topSite(report, tag) {
  const site = (report.end?.sites || []).find((s) => s.tag === tag && s.file);
  return site ? `; top site ${site.file}:${site.line}` : '';
}

module.exports = { verdict, trends, fit, formatBytes, formatDuration, PART_LABELS };
