'use strict';

// (site, tag) rows shared by sites() and snapshots. The core keeps one counter
// slot per (site record, tag); two site records can name the same place (an
// inline function in a header makes one record per translation unit), so rows
// are merged here by (file, line, function, tag name).

// Sets key on obj as an own data property, even for names like "__proto__":
// objects keyed by tag name are built with it.
function defineOwn(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// Tag names by id, as an array.
function tagNames(binding) {
  const names = [];
  for (const t of binding.tagList()) names[t.id] = t.name;
  return names;
}

function siteKey(file, line, fn, tag) {
  return `${file === null ? '\u0000' : `f${file}`}\u0001${line}\u0001${fn === null ? '\u0000' : `f${fn}`}\u0001${tag}`;
}

// Rows {file, line, function, tag, tagId, allocs, frees, reallocs,
// bytesAllocated, bytesFreed, currBytes, currBlocks}, one per place and tag.
function siteRows(binding) {
  require('./attach.js').resolveSites(); // names of attached addons' sites, on read
  const slots = binding.slotRows();
  // After the slots, so every tag they name is listed.
  const names = tagNames(binding);
  const merged = new Map();
  for (const s of slots) {
    const tag = names[s.tag] !== undefined ? names[s.tag] : String(s.tag);
    const file = s.file;
    const fn = s.func;
    const line = s.line;
    const key = siteKey(file, line, fn, tag);
    let row = merged.get(key);
    if (row === undefined) {
      row = {
        file,
        line,
        function: fn,
        tag,
        tagId: s.tag,
        allocs: 0,
        frees: 0,
        reallocs: 0,
        bytesAllocated: 0,
        bytesFreed: 0,
        currBytes: 0,
        currBlocks: 0,
      };
      merged.set(key, row);
    }
    row.allocs += s.allocs;
    row.frees += s.frees;
    row.reallocs += s.reallocs;
    row.bytesAllocated += s.bytesAllocated;
    row.bytesFreed += s.bytesFreed;
    row.currBytes += s.currBytes;
    row.currBlocks += s.currBlocks;
  }
  return [...merged.values()];
}

// Strings in code-unit order (locale-independent, deterministic); null first.
function compareStrings(a, b) {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

// Ascending by file, line, tag, then function.
function compareSites(a, b) {
  return (
    compareStrings(a.file, b.file) ||
    a.line - b.line ||
    compareStrings(a.tag, b.tag) ||
    compareStrings(a.function, b.function)
  );
}

module.exports = { defineOwn, tagNames, siteKey, siteRows, compareStrings, compareSites };
