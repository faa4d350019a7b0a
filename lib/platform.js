'use strict';

// The platform as prebuilds are tagged: platform, arch, and on Linux the libc.

/** 'glibc', 'musl' (Linux), or null elsewhere. */
function libc() {
  if (process.platform !== 'linux') return null;
  const header = process.report && typeof process.report.getReport === 'function' ? process.report.getReport().header : null;
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** e.g. 'linux-x64 (glibc)', 'darwin-arm64', 'win32-x64'. */
function platformDescription() {
  const c = libc();
  return `${process.platform}-${process.arch}${c ? ` (${c})` : ''}`;
}

module.exports = { libc, platformDescription };
