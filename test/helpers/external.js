'use strict';

// Small readers of mw.stats().external for the external-memory tests.

/**
 * Resolves after two check phases of the event loop. native-memwatch flushes from
 * an unreferenced check handle once per loop turn; Node runs setImmediate callbacks
 * from a check handle of its own, and the two may run in either order within one
 * phase, so one hop is not enough to be sure that the flush has run.
 */
function turn() {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** This environment's audit (mw.stats().external.environment). */
function envAudit(mw) {
  return mw.stats().external.environment;
}

/** This environment's audit of one external tag (zeros when it owes nothing yet). */
function tagAudit(mw, name) {
  const row = envAudit(mw).tags[name];
  if (!row) throw new Error(`tag ${name} is not in mw.stats().external.environment.tags`);
  return row;
}

const MiB = 1024 * 1024;

module.exports = { turn, envAudit, tagAudit, MiB };
