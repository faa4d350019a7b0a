'use strict';

// External memory: what each environment owes V8 for external-tagged blocks and
// explicit adjustments, what it reported, and what happened at teardowns.
// Design: docs/external-memory.md.

const binding = require('./binding.js');
const { resolveTag, validateBoolean } = require('./validate.js');
const { defineOwn, tagNames } = require('./rows.js');

// An environment's audit with tag ids turned into names.
function environment(raw, names) {
  if (raw === null) return null;
  const tags = {};
  for (const t of raw.tags) {
    defineOwn(tags, names[t.tag] ?? String(t.tag), {
      owed: t.owed,
      explicitOwed: t.explicitOwed,
      reported: t.reported,
      pending: t.pending,
      explicitCalls: t.explicitCalls,
      belowZero: t.belowZero,
    });
  }
  return {
    id: raw.id,
    owed: raw.owed,
    reported: raw.reported,
    pending: raw.pending,
    adjustCalls: raw.adjustCalls,
    offThreadCalls: raw.offThreadCalls,
    flushes: raw.flushes,
    tags,
  };
}

/** The `external` part of mw.stats(). */
function externalStats() {
  const names = tagNames(binding);
  const g = binding.externalGlobal();
  return {
    threshold: g.threshold,
    environment: environment(binding.externalAudit(), names),
    environments: binding.externalEnvironments().map((e) => environment(e, names)),
    unattributedBytes: g.unattributedBytes,
    doubleReported: g.doubleReported,
    teardown: {
      environments: g.teardownEnvironments,
      reportedBytes: g.teardownReportedBytes,
      droppedBytes: g.teardownDroppedBytes,
      freedAfterBytes: g.freedAfterTeardownBytes,
      freedAfterBlocks: g.freedAfterTeardownBlocks,
    },
    ownerSlots: { live: g.ownersLive, used: g.ownerSlotsUsed, capacity: g.ownerSlots },
  };
}

/** Reports this environment's pending change to V8 now; returns the bytes reported. */
function flushExternal() {
  return binding.externalFlush();
}

/** Marks a tag (name or id) external or not; blocks keep what they were. */
function setExternal(tag, external) {
  const id = resolveTag(binding, tag, 'tag');
  binding.tagSetExternal(id, validateBoolean(external, 'external'));
}

module.exports = { externalStats, flushExternal, setExternal };
