'use strict';

// Paths of the files the package ships for addon authors' own tooling
// (docs/valgrind.md, docs/c-api.md#sanitizers).

const path = require('path');

/** Valgrind suppressions for Node's and V8's own reports: --suppressions=<this>. */
const valgrindSuppressions = path.join(__dirname, '..', 'valgrind', 'node.supp');

module.exports = { valgrindSuppressions };
