'use strict';
// Writes the seed corpus of fuzz_heapsnap (test/fuzz/corpus): small heap
// snapshots in V8's layout and in others, each prefixed by the chunking byte,
// plus truncated and corrupt variants. Run: node test/fuzz/make-corpus.js
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, 'corpus');
fs.mkdirSync(dir, { recursive: true });
const meta = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape'], 'string', 'number', 'number', 'number', 'number', 'number'],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'], 'string_or_number', 'node'],
};
// A root with k objects of a few classes, chained so paths have length.
function snapshot(k) {
  const nodes = [9, 0, 1, 0, 1, 0, 0];
  const edges = [2, 1, 7];
  for (let i = 1; i <= k; i++) {
    const last = i === k;
    nodes.push(3, 2 + (i % 3), 1 + 2 * i, 16 + i, last ? 0 : 2, 0, 0);
    if (!last) edges.push(2, 1, (i + 1) * 7, 6, 5, 0);
  }
  return JSON.stringify({
    snapshot: { meta, node_count: k + 1, edge_count: edges.length / 3, trace_function_count: 0 },
    nodes, edges, trace_function_infos: [], trace_tree: [], samples: [], locations: [],
    strings: ['', 'next', 'Foo', 'Bar', 'HeapDiff', 'w\u00e9ak\ud83d\ude00'],
  });
}
const seeds = {
  small: snapshot(3),
  chain: snapshot(40),
  reordered: '{"snapshot":{"meta":{"node_fields":["id","extra","edge_count","name","self_size","type"],"node_types":["number","number","number","string","number",["synthetic","object","closure"]],"edge_fields":["to_node","type","name_or_index"],"edge_types":["node",["weak","element","property"],"string_or_number"]}},"nodes":[1,0,1,0,0,0,2,9,0,1,40,1,3,9,0,2,8,2],"edges":[6,2,0],"strings":["","Widget","fn"]}',
};
// The chain as V8 writes it: a record a line ("\n," between records), a
// string a line, locations filled: the layout the parser's fast paths read.
function v8Text(text) {
  const j = JSON.parse(text);
  const rows = (a, w) => a.map((v, i) => (i > 0 && i % w === 0 ? `\n,${v}` : i > 0 ? `,${v}` : `${v}`)).join('');
  j.locations = [3, 1, 10, 4, 10, 1, 22, 0];
  return `{"snapshot":${JSON.stringify(j.snapshot)},\n"nodes":[${rows(j.nodes, 7)}],\n"edges":[${rows(j.edges, 3)}],\n` +
    `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[${rows(j.locations, 4)}],\n` +
    `"strings":[${j.strings.map((x) => JSON.stringify(x)).join(',\n')}]}`;
}
seeds.v8lines = v8Text(seeds.chain);
seeds.truncated = seeds.chain.slice(0, 700);
seeds.bad_edge = seeds.small.replace(/"edges":\[2,1,7/, '"edges":[2,1,700');
seeds.deep = `{"x":${'['.repeat(80)}`;
let n = 0;
for (const [name, text] of Object.entries(seeds)) {
  for (const step of [0, 3, 16]) {
    fs.writeFileSync(path.join(dir, `${name}-${step}`), Buffer.concat([Buffer.from([step]), Buffer.from(text)]));
    n++;
  }
}
console.log(`wrote ${n} seeds to ${dir}`);
