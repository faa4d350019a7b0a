/*
 * heapsnap.h: a streaming reader of V8 heap snapshots (.heapsnapshot JSON) and
 * the analyses built on it: memwatch-style summaries, diffs by node id, and
 * shortest retainer paths. Plain C11, no Node-API.
 *
 * The parser is fed the JSON in chunks of any size (a file read in blocks, the
 * inspector's HeapProfiler.addHeapSnapshotChunk strings) and never holds the
 * text. It reads the field layout from snapshot.meta instead of assuming one,
 * keeps nodes and edges in compact columns, and keeps only the strings the
 * graph needs (each once, in one pool). Its memory is bounded by the number of
 * nodes and edges and by the limits in nmw_hs_options, not by the text's size.
 * Bad input stops it with a message and the byte offset where it was found.
 */
#ifndef NMW_HEAPSNAP_H
#define NMW_HEAPSNAP_H

#include <stddef.h>
#include <stdint.h>

/* ---- limits (defaults; nmw_hs_options can lower or raise them) ---- */
#define NMW_HS_MAX_DEPTH 64                      /* JSON nesting */
#define NMW_HS_DEFAULT_MAX_NODES (1u << 28)      /* 268 M nodes */
#define NMW_HS_DEFAULT_MAX_EDGES 0xFFFFFFF0u     /* edge indexes are 32-bit */
#define NMW_HS_DEFAULT_MAX_STRING_BYTES (1u << 30) /* kept string bytes */
#define NMW_HS_MAX_KEPT_STRING 1024              /* a kept string is cut to this many bytes */
#define NMW_HS_MAX_META_BYTES 65536              /* text of the meta strings */
#define NMW_HS_MAX_TYPES 64                      /* node or edge type names */

/* How memwatch names a node: by its V8 type, or by its name for objects. */
typedef enum {
  NMW_HS_KIND_SKIP = 0, /* hidden, synthetic, cons/sliced strings, ...: not counted */
  NMW_HS_KIND_ARRAY,
  NMW_HS_KIND_STRING,
  NMW_HS_KIND_OBJECT, /* named by the node's name (the constructor) */
  NMW_HS_KIND_CODE,
  NMW_HS_KIND_CLOSURE,
  NMW_HS_KIND_REGEXP,
  NMW_HS_KIND_NUMBER,
  NMW_HS_KIND_NATIVE,
} nmw_hs_kind;

typedef struct {
  uint64_t max_nodes;        /* 0: NMW_HS_DEFAULT_MAX_NODES */
  uint64_t max_edges;        /* 0: NMW_HS_DEFAULT_MAX_EDGES */
  uint64_t max_string_bytes; /* 0: NMW_HS_DEFAULT_MAX_STRING_BYTES */
  int keep_all_names;        /* keep every node name and edge name (retainer paths) */
} nmw_hs_options;

/* The graph of one snapshot, in columns. Node i's edges are
 * edge_first[i] .. edge_first[i + 1] - 1. Strings not kept are NULL. */
typedef struct nmw_hs_graph {
  uint32_t node_count;
  uint32_t edge_count;
  uint8_t *node_type;   /* index into node_type_names */
  uint32_t *node_name;  /* string index */
  uint32_t *node_id;    /* V8's object id, stable across snapshots of one isolate */
  uint64_t *node_size;  /* self size in bytes */
  uint32_t *edge_first; /* node_count + 1 entries */
  uint8_t *edge_type;   /* index into edge_type_names */
  uint32_t *edge_name;  /* string index, or the element index for element/hidden edges */
  uint32_t *edge_to;    /* node index */
  uint32_t string_count;
  uint32_t *string_off; /* offset into string_pool, UINT32_MAX when not kept */
  char *string_pool;    /* NUL-terminated strings */
  uint32_t node_type_count, edge_type_count;
  char *node_type_names[NMW_HS_MAX_TYPES];
  char *edge_type_names[NMW_HS_MAX_TYPES];
  uint8_t node_kind[NMW_HS_MAX_TYPES];      /* nmw_hs_kind of each node type */
  uint8_t edge_is_index[NMW_HS_MAX_TYPES];  /* element/hidden: name is a number */
  uint8_t edge_is_weak[NMW_HS_MAX_TYPES];
} nmw_hs_graph;

typedef struct nmw_hs_parser nmw_hs_parser;

/* NULL when out of memory. opts may be NULL for the defaults. */
nmw_hs_parser *nmw_hs_parser_new(const nmw_hs_options *opts);
/* 0, or -1 after an error (every later call returns -1 too). */
int nmw_hs_parser_feed(nmw_hs_parser *p, const char *data, size_t len);
/* The end of the input: 0 when a whole, consistent snapshot was read. */
int nmw_hs_parser_finish(nmw_hs_parser *p);
/* The first error's message (NULL if none) and its byte offset in the input. */
const char *nmw_hs_parser_error(const nmw_hs_parser *p, uint64_t *offset);
/* Bytes fed so far. */
uint64_t nmw_hs_parser_offset(const nmw_hs_parser *p);
/* After a successful finish: the graph, owned by the caller from then on. */
nmw_hs_graph *nmw_hs_parser_take_graph(nmw_hs_parser *p);
void nmw_hs_parser_free(nmw_hs_parser *p);

void nmw_hs_graph_free(nmw_hs_graph *g);
/* String i, or NULL when out of range or not kept. */
const char *nmw_hs_graph_string(const nmw_hs_graph *g, uint32_t i);
/* The memwatch name of node i ("Array", "Closure", a constructor name, ...),
 * or NULL for nodes memwatch does not count. */
const char *nmw_hs_graph_what(const nmw_hs_graph *g, uint32_t i);

/* ---- digests: what a diff needs of one snapshot, without the graph ---- */

/* The nodes reachable from the root (node 0) through any edge, not entering
 * objects named skip_name (memwatch skips its own "HeapDiff"), sorted by id. */
typedef struct nmw_hs_digest {
  uint32_t node_count;      /* every node of the snapshot (memwatch's "nodes") */
  uint32_t count;           /* reachable nodes */
  uint64_t size_bytes;      /* their self sizes summed */
  uint32_t *id;             /* count entries, ascending */
  uint32_t *cls;            /* class index, UINT32_MAX for nodes memwatch skips */
  uint64_t *size;
  uint32_t class_count;
  uint32_t *class_off;      /* offset of each class name in class_pool */
  char *class_pool;
  uint64_t *class_nodes;    /* reachable nodes of each class */
  uint64_t *class_bytes;
} nmw_hs_digest;

/* NULL when out of memory. skip_name may be NULL. */
nmw_hs_digest *nmw_hs_digest_new(const nmw_hs_graph *g, const char *skip_name);
/* The same counts (node_count, count, size_bytes, the classes with their
 * nodes and bytes; classes in another order) without the per-node columns:
 * id, cls and size are NULL, so it cannot be diffed. No sort: for summaries. */
nmw_hs_digest *nmw_hs_summary_new(const nmw_hs_graph *g, const char *skip_name);
void nmw_hs_digest_free(nmw_hs_digest *d);
const char *nmw_hs_digest_class(const nmw_hs_digest *d, uint32_t cls);

/* One row of a diff: memwatch's details entry, plus sample ids of allocated nodes. */
typedef struct {
  const char *what; /* points into the digests' pools */
  int64_t size_bytes;
  uint64_t added, released;
  uint32_t sample_count;
  uint32_t *sample_ids; /* ascending, evenly spread over the class's allocated nodes */
} nmw_hs_change;

typedef struct {
  uint64_t freed_nodes, allocated_nodes;
  int64_t size_bytes; /* after.size_bytes - before.size_bytes */
  uint32_t change_count;
  nmw_hs_change *changes; /* sorted by what, bytewise (memwatch's std::map order) */
} nmw_hs_diff;

/* NULL when out of memory. samples: sample ids to keep per class (0 for none). */
nmw_hs_diff *nmw_hs_diff_new(const nmw_hs_digest *before, const nmw_hs_digest *after,
                             uint32_t samples);
void nmw_hs_diff_free(nmw_hs_diff *d);

/* ---- retainer paths ---- */

/* Shortest paths from the root to nodes, through non-weak edges, not entering
 * objects named skip_name. */
typedef struct nmw_hs_paths nmw_hs_paths;
nmw_hs_paths *nmw_hs_paths_new(const nmw_hs_graph *g, const char *skip_name);
void nmw_hs_paths_free(nmw_hs_paths *p);
/* Node index of an id (binary search on an id-sorted index), or UINT32_MAX. */
uint32_t nmw_hs_paths_find(const nmw_hs_paths *p, uint32_t id);
/* Fills nodes[] with the node indexes from the root to node (root first) and
 * edges[] with the edge from each to the next (one fewer), and returns the
 * number of nodes on the path; only the first max nodes (max - 1 edges) are
 * written when it is longer. 0 when node is unreachable. */
uint32_t nmw_hs_paths_get(const nmw_hs_paths *p, uint32_t node, uint32_t *nodes, uint32_t *edges,
                          uint32_t max);

#endif /* NMW_HEAPSNAP_H */
