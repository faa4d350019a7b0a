'use strict';

// `native-memwatch report --text`: the terminal summary of a report.

const { formatBytes, formatDuration, trends, PART_LABELS } = require('./verdict.js');

function renderText(report) {
  const out = [];
  const v = report.verdict;
  out.push(`native-memwatch: ${(report.command || []).join(' ')}`);
  out.push(`verdict: ${v.text}`);
  out.push(`run: ${formatDuration(report.durationMs || 0)}, ${report.samples.length} samples every ${report.intervalMs} ms, ${(report.gc || []).length} GCs, ${report.exit && report.exit.signal ? `signal ${report.exit.signal}` : `exit code ${report.exit ? report.exit.code : '?'}`}`);
  if (report.samples.length >= 2) {
    const grown = trends(report.samples)
      .filter((t) => t.kind !== 'rss' && Math.abs(t.growth) >= 1024 * 1024)
      .sort((a, b) => b.growth - a.growth)
      .slice(0, 8);
    out.push('', 'top growth (fitted over the run):');
    if (grown.length === 0) out.push('  none above 1 MB');
    for (const t of grown) {
      const label = t.kind === 'tag' ? `tag ${t.name}` : PART_LABELS[t.name];
      out.push(`  ${label.padEnd(36)} ${formatBytes(t.growth).padStart(10)}  R² ${t.r2.toFixed(2)}  (${formatBytes(t.first)} -> ${formatBytes(t.last)})`);
    }
  }
  const leaks = report.leaks || [];
  out.push('', `leak events: ${leaks.length}`);
  for (const l of leaks) out.push(`  at ${formatDuration(l.t)}: ${l.info.kind || ''} ${l.info.tag || ''} ${Number.isFinite(l.info.growth) ? formatBytes(l.info.growth) : ''} ${l.info.reason || ''}`);
  const end = report.end || {};
  if (end.explain) {
    out.push('', `RSS at exit ${formatBytes(end.explain.rss)}:`);
    for (const [name, p] of Object.entries(end.explain.parts)) out.push(`  ${(PART_LABELS[name] || name).padEnd(36)} ${formatBytes(p.bytes).padStart(10)}`);
  }
  if ((end.sites || []).length) {
    out.push('', 'top sites (live at exit):');
    for (const s of end.sites.slice(0, 5)) out.push(`  ${(s.file ? `${s.file}:${s.line}` : '(no site)').padEnd(36)} ${s.tag.padEnd(20)} ${formatBytes(s.currBytes).padStart(10)} in ${s.currBlocks} blocks`);
  }
  if (report.constructors) {
    out.push('', 'top constructors (JS heap, start to exit; --heap):');
    if (report.constructors.length === 0) out.push('  no change');
    for (const c of report.constructors.slice(0, 10)) out.push(`  ${c.name.padEnd(36)} ${`${c.count >= 0 ? '+' : ''}${c.count}`.padStart(10)}  ${formatBytes(c.bytes).padStart(10)}  (${c.allocated} new, ${c.freed} freed)`);
  } else if (report.heap && report.heap.error) {
    out.push('', `top constructors: ${report.heap.error}`);
  }
  const fin = report.exitReport;
  if (fin) {
    out.push('', `finalizers at exit (NATIVE_MEMWATCH_EXIT_REPORT): ${fin.neverRun ? fin.neverRun.count : 0} never ran (${fin.exit || fin.phase || ''})`);
    for (const [tag, n] of Object.entries((fin.neverRun && fin.neverRun.tags) || {})) out.push(`  ${tag}: ${typeof n === 'object' ? JSON.stringify(n) : n}`);
  }
  return `${out.join('\n')}\n`;
}

module.exports = { renderText };
