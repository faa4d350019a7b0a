'use strict';

// Writes a synthetic V8 heap snapshot to a file, streaming (never held whole):
// a root with `nodes` objects of `classes` classes (object i is of class
// i % classes, 32 bytes), then `fillerBytes` of string text in strings nothing
// refers to, so the file can pass 1 GB and V8's 512 MB string limit while the
// graph stays small. Returns the file's size in bytes.

const fs = require('node:fs');

const META = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape'], 'string', 'number', 'number', 'number', 'number', 'number'],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'], 'string_or_number', 'node'],
};

function writeSyntheticSnapshot(file, { nodes, classes, fillerBytes, fillerString = 1 << 20 }) {
  const fd = fs.openSync(file, 'w');
  let size = 0;
  let pending = [];
  let pendingLen = 0;
  const put = (text) => {
    pending.push(text);
    pendingLen += text.length;
    if (pendingLen >= 1 << 22) flush();
  };
  const flush = () => {
    const buf = Buffer.from(pending.join(''), 'latin1');
    fs.writeSync(fd, buf);
    size += buf.length;
    pending = [];
    pendingLen = 0;
  };
  try {
    put(`{"snapshot":{"meta":${JSON.stringify(META)},"node_count":${nodes + 1},"edge_count":${nodes},"trace_function_count":0},\n"nodes":[9,0,1,0,${nodes},0,0`);
    for (let i = 0; i < nodes; i++) put(`\n,3,${1 + (i % classes)},${3 + 2 * i},32,0,0,0`);
    put('],\n"edges":[');
    for (let i = 0; i < nodes; i++) put(`${i ? ',' : ''}1,${i},${7 * (i + 1)}`);
    put('],\n"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],\n"strings":[""');
    for (let c = 0; c < classes; c++) put(`,"Class${c}"`);
    flush();
    const filler = Buffer.from(`,"${'x'.repeat(fillerString - 4)}\\n"`, 'latin1');
    for (let written = 0; written < fillerBytes; written += filler.length) {
      fs.writeSync(fd, filler);
      size += filler.length;
    }
    put(']}\n');
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return size;
}

module.exports = { writeSyntheticSnapshot };
