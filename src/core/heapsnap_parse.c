/*
 * heapsnap_parse.c: the streaming parser of V8 heap snapshot JSON.
 *
 * A push parser: nmw_hs_parser_feed() takes chunks of any size and keeps only
 * its state between them. The JSON is checked whole (syntax, nesting, escapes)
 * but only four parts are kept:
 *   snapshot.meta   the field layout of nodes and edges and their type names;
 *   nodes, edges    flat arrays of non-negative integers, read by a dedicated
 *                   loop into columns (type, name, id, self size, edge count;
 *                   edge type, name, target);
 *   strings         only the strings the kept graph refers to, each once.
 * Everything else (trace trees, samples, locations, unknown keys) is checked
 * and dropped. Memory is the columns plus the kept strings: bounded by the
 * graph and by nmw_hs_options, never by the size of the text.
 */
#include "heapsnap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32
#define MAX_SAFE_INT 9007199254740992ull /* 2^53: larger counts are rejected */
#define KEY_MAX 16

enum key_id {
  K_OTHER = 0,
  K_SNAPSHOT,
  K_META,
  K_NODE_FIELDS,
  K_NODE_TYPES,
  K_EDGE_FIELDS,
  K_EDGE_TYPES,
  K_NODE_COUNT,
  K_EDGE_COUNT,
  K_NODES,
  K_EDGES,
  K_STRINGS,
};

enum state {
  ST_START,        /* before the top-level value */
  ST_VALUE,        /* a value is expected */
  ST_VALUE_OR_END, /* after '[': a value or ']' */
  ST_KEY_OR_END,   /* after '{': a key or '}' */
  ST_KEY,          /* after ',' in an object */
  ST_COLON,
  ST_AFTER,        /* after a value: ',' or the container's end */
  ST_STRING,
  ST_ESCAPE,
  ST_UNICODE,      /* \uXXXX: hex digits */
  ST_NUMBER,
  ST_LITERAL,
  ST_NUM_FIRST,    /* nodes/edges: after '[' */
  ST_NUM_VALUE,    /* nodes/edges: after ',' */
  ST_NUM_IN,       /* nodes/edges: inside a number */
  ST_NUM_AFTER,    /* nodes/edges: after a number */
  ST_DONE,
  ST_ERROR,
};

/* Where the characters of the current string go. */
enum sink { SINK_DROP, SINK_KEY, SINK_META, SINK_POOL };

/* The role of a node or edge field, from meta.node_fields / edge_fields. */
enum role { R_IGNORE, R_TYPE, R_NAME, R_ID, R_SIZE, R_EDGES, R_TO };

/* Number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
enum num_state { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

typedef struct {
  uint8_t is_array;
  uint8_t key;    /* objects: the key of the current member */
  uint32_t index; /* arrays: the current element */
} frame;

struct nmw_hs_parser {
  nmw_hs_options opts;
  enum state state;
  enum state after_string; /* ST_COLON for keys, ST_AFTER for values */
  uint64_t base;           /* bytes fed before the current chunk */
  const char *err;
  uint64_t err_off;
  char errbuf[192];

  frame stack[NMW_HS_MAX_DEPTH];
  uint32_t depth;

  /* the current string */
  enum sink sink;
  char key[KEY_MAX];
  uint32_t key_len; /* may exceed KEY_MAX: then no known key matches */
  uint32_t str_len; /* bytes of the current pooled or meta string */
  bool str_cut;     /* the pooled string was cut at NMW_HS_MAX_KEPT_STRING */
  uint32_t ucode, uhex;
  uint32_t high_surrogate; /* a \uD800-\uDBFF waiting for its pair, or 0 */

  /* the current number (generic grammar) */
  enum num_state num;
  bool num_int; /* a non-negative integer so far */
  uint64_t num_val;
  uint64_t num_off;
  const char *literal; /* "true", "false" or "null" */
  uint32_t literal_pos;

  /* sections seen */
  bool seen_snapshot, seen_meta, seen_nodes, seen_edges, seen_strings;
  bool layout_ready; /* meta checked and roles set */

  /* snapshot.meta */
  char meta[NMW_HS_MAX_META_BYTES];
  uint32_t meta_len;
  uint32_t meta_start;
  uint16_t node_field_off[MAX_FIELDS], edge_field_off[MAX_FIELDS];
  uint32_t node_field_n, edge_field_n;
  uint16_t node_types_off[MAX_FIELDS][NMW_HS_MAX_TYPES];
  uint8_t node_types_n[MAX_FIELDS];
  uint16_t edge_types_off[MAX_FIELDS][NMW_HS_MAX_TYPES];
  uint8_t edge_types_n[MAX_FIELDS];
  uint64_t node_count_hint, edge_count_hint;
  uint8_t node_role[MAX_FIELDS], edge_role[MAX_FIELDS];
  uint32_t node_type_field, edge_type_field;
  uint32_t node_fidx[5]; /* field index of type, name, id, self_size, edge_count */
  uint32_t edge_fidx[3]; /* field index of type, name_or_index, to_node */

  /* nodes and edges: the number being read, the field it belongs to */
  uint64_t nv;
  uint64_t nv_off;
  uint64_t edge_name_off; /* of the current edge's name_or_index */
  uint32_t field;

  nmw_hs_graph *g;
  uint64_t node_cap, edge_cap;
  uint64_t node_n, edge_n; /* complete nodes/edges; edge_n counts fields / edge_field_n */
  uint64_t edge_sum;       /* sum of the nodes' edge counts */
  uint64_t max_name, max_name_off;
  bool any_name;
  uint64_t max_to, max_to_off;
  bool any_to;

  /* strings */
  uint8_t *needed; /* bitmap over string indexes, NULL: keep every string */
  uint64_t needed_len;
  uint64_t string_n;  /* strings seen */
  uint64_t off_cap;   /* entries of g->string_off */
  uint64_t pool_len, pool_cap;
  bool keeping; /* the current string element is kept */
};

/* ---- errors ---- */

static int fail_at(nmw_hs_parser *p, uint64_t off, const char *msg) {
  if (p->state != ST_ERROR) {
    p->err = msg;
    p->err_off = off;
    p->state = ST_ERROR;
  }
  return -1;
}

static int failf_at(nmw_hs_parser *p, uint64_t off, const char *fmt, unsigned long long a,
                    unsigned long long b) {
  if (p->state == ST_ERROR) return -1;
  snprintf(p->errbuf, sizeof p->errbuf, fmt, a, b);
  return fail_at(p, off, p->errbuf);
}

/* ---- growth ---- */

static bool grow(void **ptr, uint64_t count, size_t elem) {
  if (count > SIZE_MAX / elem) return false;
  void *n = realloc(*ptr, (size_t)count * elem);
  if (n == NULL) return false;
  *ptr = n;
  return true;
}

static uint64_t next_cap(uint64_t cap, uint64_t need, uint64_t limit) {
  uint64_t n = cap < 1024 ? 1024 : cap + cap / 2;
  if (n < need) n = need;
  if (n > limit) n = limit;
  return n;
}

static int reserve_nodes(nmw_hs_parser *p, uint64_t off, uint64_t need) {
  if (need <= p->node_cap) return 0;
  uint64_t limit = p->opts.max_nodes;
  if (need > limit) return failf_at(p, off, "more than %llu nodes (the limit)%.0llu", limit, 0);
  uint64_t cap = next_cap(p->node_cap, need, limit);
  nmw_hs_graph *g = p->g;
  if (!grow((void **)&g->node_type, cap, 1) || !grow((void **)&g->node_name, cap, 4) ||
      !grow((void **)&g->node_id, cap, 4) || !grow((void **)&g->node_size, cap, 8) ||
      !grow((void **)&g->edge_first, cap + 1, 4))
    return fail_at(p, off, "out of memory for the nodes");
  p->node_cap = cap;
  return 0;
}

static int reserve_edges(nmw_hs_parser *p, uint64_t off, uint64_t need) {
  if (need <= p->edge_cap) return 0;
  uint64_t limit = p->opts.max_edges;
  if (need > limit) return failf_at(p, off, "more than %llu edges (the limit)%.0llu", limit, 0);
  uint64_t cap = next_cap(p->edge_cap, need, limit);
  nmw_hs_graph *g = p->g;
  if (!grow((void **)&g->edge_type, cap, 1) || !grow((void **)&g->edge_name, cap, 4) ||
      !grow((void **)&g->edge_to, cap, 4))
    return fail_at(p, off, "out of memory for the edges");
  p->edge_cap = cap;
  return 0;
}

/* ---- life cycle ---- */

nmw_hs_parser *nmw_hs_parser_new(const nmw_hs_options *opts) {
  nmw_hs_parser *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->g = calloc(1, sizeof *p->g);
  if (p->g == NULL) {
    free(p);
    return NULL;
  }
  if (opts != NULL) p->opts = *opts;
  if (p->opts.max_nodes == 0 || p->opts.max_nodes > 0xFFFFFFF0u)
    p->opts.max_nodes = p->opts.max_nodes == 0 ? NMW_HS_DEFAULT_MAX_NODES : 0xFFFFFFF0u;
  if (p->opts.max_edges == 0 || p->opts.max_edges > NMW_HS_DEFAULT_MAX_EDGES)
    p->opts.max_edges = NMW_HS_DEFAULT_MAX_EDGES;
  if (p->opts.max_string_bytes == 0 || p->opts.max_string_bytes > 0xFFFFFF00u)
    p->opts.max_string_bytes =
        p->opts.max_string_bytes == 0 ? NMW_HS_DEFAULT_MAX_STRING_BYTES : 0xFFFFFF00u;
  p->state = ST_START;
  return p;
}

void nmw_hs_parser_free(nmw_hs_parser *p) {
  if (p == NULL) return;
  nmw_hs_graph_free(p->g);
  free(p->needed);
  free(p);
}

const char *nmw_hs_parser_error(const nmw_hs_parser *p, uint64_t *offset) {
  if (offset != NULL) *offset = p->state == ST_ERROR ? p->err_off : 0;
  return p->state == ST_ERROR ? p->err : NULL;
}

uint64_t nmw_hs_parser_offset(const nmw_hs_parser *p) { return p->base; }

/* ---- keys and contexts ---- */

static uint8_t match_key(const nmw_hs_parser *p) {
  if (p->key_len >= KEY_MAX) return K_OTHER;
  static const struct {
    const char *name;
    uint8_t id;
    uint8_t parent; /* the key of the enclosing member, K_OTHER for the top level */
    uint8_t depth;
  } known[] = {
      {"snapshot", K_SNAPSHOT, K_OTHER, 1},       {"nodes", K_NODES, K_OTHER, 1},
      {"edges", K_EDGES, K_OTHER, 1},             {"strings", K_STRINGS, K_OTHER, 1},
      {"meta", K_META, K_SNAPSHOT, 2},            {"node_count", K_NODE_COUNT, K_SNAPSHOT, 2},
      {"edge_count", K_EDGE_COUNT, K_SNAPSHOT, 2}, {"node_fields", K_NODE_FIELDS, K_META, 3},
      {"node_types", K_NODE_TYPES, K_META, 3},     {"edge_fields", K_EDGE_FIELDS, K_META, 3},
      {"edge_types", K_EDGE_TYPES, K_META, 3},
  };
  uint8_t parent = p->depth >= 2 ? p->stack[p->depth - 2].key : K_OTHER;
  if (p->depth >= 2 && p->stack[p->depth - 2].is_array) return K_OTHER;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (known[i].depth == p->depth && known[i].parent == parent &&
        strlen(known[i].name) == p->key_len && memcmp(known[i].name, p->key, p->key_len) == 0)
      return known[i].id;
  }
  return K_OTHER;
}

/* The key of the object member at depth d (1-based), K_OTHER for arrays. */
static uint8_t key_at(const nmw_hs_parser *p, uint32_t d) {
  if (d == 0 || d > p->depth || p->stack[d - 1].is_array) return K_OTHER;
  return p->stack[d - 1].key;
}

/* What a value about to start at the current position is (see value_begin). */
enum ctx {
  C_NONE,
  C_NODES,       /* the "nodes" array itself */
  C_EDGES,
  C_STRINGS,     /* the "strings" array itself */
  C_STRING_ELEM, /* one of the strings */
  C_NODE_FIELD,  /* a string of meta.node_fields */
  C_EDGE_FIELD,
  C_NODE_TYPE,   /* a string of meta.node_types[k] */
  C_EDGE_TYPE,
  C_NODE_COUNT,
  C_EDGE_COUNT,
  C_META,
  C_SNAPSHOT,
};

static enum ctx value_ctx(const nmw_hs_parser *p) {
  uint32_t d = p->depth;
  if (d == 1) {
    switch (p->stack[0].key) {
    case K_NODES: return C_NODES;
    case K_EDGES: return C_EDGES;
    case K_STRINGS: return C_STRINGS;
    case K_SNAPSHOT: return C_SNAPSHOT;
    default: return C_NONE;
    }
  }
  if (key_at(p, 1) == K_STRINGS && d == 2) return C_STRING_ELEM;
  if (key_at(p, 1) != K_SNAPSHOT) return C_NONE;
  if (d == 2) {
    uint8_t k = key_at(p, 2);
    return k == K_META ? C_META : k == K_NODE_COUNT ? C_NODE_COUNT : k == K_EDGE_COUNT ? C_EDGE_COUNT : C_NONE;
  }
  if (key_at(p, 2) != K_META) return C_NONE;
  uint8_t k3 = key_at(p, 3);
  if (d == 4 && p->stack[3].is_array) {
    if (k3 == K_NODE_FIELDS) return C_NODE_FIELD;
    if (k3 == K_EDGE_FIELDS) return C_EDGE_FIELD;
  }
  if (d == 5 && p->stack[3].is_array && p->stack[4].is_array) {
    if (k3 == K_NODE_TYPES) return C_NODE_TYPE;
    if (k3 == K_EDGE_TYPES) return C_EDGE_TYPE;
  }
  return C_NONE;
}

/* ---- the layout ---- */

static const char *meta_str(const nmw_hs_parser *p, uint16_t off) { return p->meta + off; }

static int find_field(const nmw_hs_parser *p, const uint16_t *offs, uint32_t n, const char *name) {
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(meta_str(p, offs[i]), name) == 0) return (int)i;
  return -1;
}

static uint8_t kind_of(const char *type) {
  static const struct {
    const char *name;
    uint8_t kind;
  } kinds[] = {
      {"array", NMW_HS_KIND_ARRAY},     {"string", NMW_HS_KIND_STRING},
      {"object", NMW_HS_KIND_OBJECT},   {"code", NMW_HS_KIND_CODE},
      {"closure", NMW_HS_KIND_CLOSURE}, {"regexp", NMW_HS_KIND_REGEXP},
      {"number", NMW_HS_KIND_NUMBER},   {"native", NMW_HS_KIND_NATIVE},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, type) == 0) return kinds[i].kind;
  return NMW_HS_KIND_SKIP;
}

/* Checks snapshot.meta when the first of nodes/edges/strings starts. */
static int layout(nmw_hs_parser *p, uint64_t off) {
  if (p->layout_ready) return 0;
  if (!p->seen_meta) return fail_at(p, off, "snapshot.meta must come before \"nodes\", \"edges\" and \"strings\"");
  static const char *node_req[] = {"type", "name", "id", "self_size", "edge_count"};
  static const uint8_t node_roles[] = {R_TYPE, R_NAME, R_ID, R_SIZE, R_EDGES};
  static const char *edge_req[] = {"type", "name_or_index", "to_node"};
  static const uint8_t edge_roles[] = {R_TYPE, R_NAME, R_TO};
  memset(p->node_role, R_IGNORE, sizeof p->node_role);
  memset(p->edge_role, R_IGNORE, sizeof p->edge_role);
  for (size_t i = 0; i < 5; i++) {
    int f = find_field(p, p->node_field_off, p->node_field_n, node_req[i]);
    if (f < 0) {
      snprintf(p->errbuf, sizeof p->errbuf, "snapshot.meta.node_fields has no \"%s\"", node_req[i]);
      return fail_at(p, off, p->errbuf);
    }
    p->node_role[f] = node_roles[i];
    p->node_fidx[i] = (uint32_t)f;
  }
  for (size_t i = 0; i < 3; i++) {
    int f = find_field(p, p->edge_field_off, p->edge_field_n, edge_req[i]);
    if (f < 0) {
      snprintf(p->errbuf, sizeof p->errbuf, "snapshot.meta.edge_fields has no \"%s\"", edge_req[i]);
      return fail_at(p, off, p->errbuf);
    }
    p->edge_role[f] = edge_roles[i];
    p->edge_fidx[i] = (uint32_t)f;
  }
  p->node_type_field = (uint32_t)find_field(p, p->node_field_off, p->node_field_n, "type");
  p->edge_type_field = (uint32_t)find_field(p, p->edge_field_off, p->edge_field_n, "type");
  nmw_hs_graph *g = p->g;
  uint32_t nt = p->node_types_n[p->node_type_field], et = p->edge_types_n[p->edge_type_field];
  if (nt == 0) return fail_at(p, off, "snapshot.meta.node_types gives no names for the node type field");
  if (et == 0) return fail_at(p, off, "snapshot.meta.edge_types gives no names for the edge type field");
  for (uint32_t i = 0; i < nt; i++) {
    const char *s = meta_str(p, p->node_types_off[p->node_type_field][i]);
    g->node_type_names[i] = strdup(s);
    if (g->node_type_names[i] == NULL) return fail_at(p, off, "out of memory");
    g->node_kind[i] = kind_of(s);
  }
  for (uint32_t i = 0; i < et; i++) {
    const char *s = meta_str(p, p->edge_types_off[p->edge_type_field][i]);
    g->edge_type_names[i] = strdup(s);
    if (g->edge_type_names[i] == NULL) return fail_at(p, off, "out of memory");
    g->edge_is_index[i] = strcmp(s, "element") == 0 || strcmp(s, "hidden") == 0;
    g->edge_is_weak[i] = strcmp(s, "weak") == 0;
  }
  g->node_type_count = nt;
  g->edge_type_count = et;
  p->layout_ready = true;
  return 0;
}

/* ---- strings ---- */

/* Decides which strings to keep when "strings" starts: every one named by a
 * kept node (objects for memwatch's names; all nodes and named edges with
 * keep_all_names). Before the nodes were read, every string is kept. */
static int plan_strings(nmw_hs_parser *p, uint64_t off) {
  if (!p->seen_nodes) return 0; /* needed stays NULL: keep all */
  nmw_hs_graph *g = p->g;
  uint64_t len = p->any_name ? p->max_name + 1 : 0;
  if (p->opts.keep_all_names) {
    for (uint64_t e = 0; e < p->edge_n; e++)
      if (!g->edge_is_index[g->edge_type[e]] && (uint64_t)g->edge_name[e] + 1 > len) len = g->edge_name[e] + 1ull;
  }
  p->needed = calloc((size_t)(len / 8 + 1), 1);
  if (p->needed == NULL) return fail_at(p, off, "out of memory for the string plan");
  p->needed_len = len;
  for (uint64_t i = 0; i < p->node_n; i++) {
    if (p->opts.keep_all_names || g->node_kind[g->node_type[i]] == NMW_HS_KIND_OBJECT) {
      uint32_t s = g->node_name[i];
      p->needed[s >> 3] |= (uint8_t)(1u << (s & 7));
    }
  }
  if (p->opts.keep_all_names) {
    for (uint64_t e = 0; e < p->edge_n; e++) {
      if (g->edge_is_index[g->edge_type[e]]) continue;
      uint32_t s = g->edge_name[e];
      p->needed[s >> 3] |= (uint8_t)(1u << (s & 7));
    }
  }
  return 0;
}

static bool string_needed(const nmw_hs_parser *p, uint64_t i) {
  if (p->needed == NULL) return true;
  return i < p->needed_len && (p->needed[i >> 3] & (1u << (i & 7)));
}

/* A string element starts: p->string_n is its index. */
static int string_begin(nmw_hs_parser *p, uint64_t off) {
  uint64_t i = p->string_n;
  nmw_hs_graph *g = p->g;
  uint64_t limit = p->needed == NULL ? UINT32_MAX - 1ull : p->needed_len;
  p->keeping = false;
  if (i >= limit) {
    if (p->needed == NULL) return fail_at(p, off, "more than 2^32 strings");
    return 0;
  }
  if (i >= p->off_cap) {
    uint64_t cap = next_cap(p->off_cap, i + 1, limit);
    if (!grow((void **)&g->string_off, cap, 4)) return fail_at(p, off, "out of memory for the strings");
    p->off_cap = cap;
  }
  g->string_off[i] = UINT32_MAX;
  if (!string_needed(p, i)) return 0;
  if (p->pool_len + 1 > p->opts.max_string_bytes)
    return failf_at(p, off, "the kept strings exceed %llu bytes (the limit)%.0llu", p->opts.max_string_bytes, 0);
  if (p->pool_len + NMW_HS_MAX_KEPT_STRING + 1 > p->pool_cap) {
    uint64_t cap = p->pool_cap < 65536 ? 65536 : p->pool_cap * 2;
    while (cap < p->pool_len + NMW_HS_MAX_KEPT_STRING + 1) cap *= 2;
    if (!grow((void **)&g->string_pool, cap, 1)) return fail_at(p, off, "out of memory for the strings");
    p->pool_cap = cap;
  }
  g->string_off[i] = (uint32_t)p->pool_len;
  p->keeping = true;
  return 0;
}

static void string_end(nmw_hs_parser *p) {
  if (p->keeping) {
    /* Cut at a character boundary if the string was truncated. */
    uint32_t n = p->str_len;
    char *s = p->g->string_pool + p->pool_len;
    if (p->str_cut) {
      uint32_t k = n;
      while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) k--;
      /* k - 1 is the lead byte of the last character: drop it if incomplete. */
      if (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0xC0) {
        unsigned char lead = (unsigned char)s[k - 1];
        uint32_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (k - 1) < want) n = k - 1;
      }
    }
    s[n] = '\0';
    p->pool_len += n + 1;
  }
  p->string_n++;
}

/* Appends decoded bytes to the current string's sink. */
static int sink_put(nmw_hs_parser *p, const char *s, size_t n, uint64_t off) {
  switch (p->sink) {
  case SINK_DROP: return 0;
  case SINK_KEY: {
    size_t room = KEY_MAX - p->key_len;
    if (n > room) n = room, p->key_len = KEY_MAX; /* too long for a known key */
    memcpy(p->key + KEY_MAX - room, s, n);
    if (p->key_len < KEY_MAX) p->key_len += (uint32_t)n;
    return 0;
  }
  case SINK_META:
    if (p->meta_len + n + 1 > NMW_HS_MAX_META_BYTES)
      return fail_at(p, off, "snapshot.meta is too large");
    memcpy(p->meta + p->meta_len, s, n);
    p->meta_len += (uint32_t)n;
    return 0;
  case SINK_POOL:
    if (!p->keeping) return 0;
    if (p->str_len + n > NMW_HS_MAX_KEPT_STRING) {
      n = NMW_HS_MAX_KEPT_STRING - p->str_len;
      p->str_cut = true;
    }
    memcpy(p->g->string_pool + p->pool_len + p->str_len, s, n);
    p->str_len += (uint32_t)n;
    return 0;
  }
  return 0;
}

static int put_codepoint(nmw_hs_parser *p, uint32_t c, uint64_t off) {
  char b[4];
  size_t n;
  if (c < 0x80) {
    b[0] = (char)c;
    n = 1;
  } else if (c < 0x800) {
    b[0] = (char)(0xC0 | (c >> 6));
    b[1] = (char)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    b[0] = (char)(0xE0 | (c >> 12));
    b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (char)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (c >> 18));
    b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  return sink_put(p, b, n, off);
}

/* A lone high surrogate before anything but its pair becomes U+FFFD. */
static int flush_surrogate(nmw_hs_parser *p, uint64_t off) {
  if (p->high_surrogate == 0) return 0;
  p->high_surrogate = 0;
  return put_codepoint(p, 0xFFFD, off);
}

/* The closing quote of a string. */
static int string_close(nmw_hs_parser *p, uint64_t off) {
  if (flush_surrogate(p, off)) return -1;
  enum ctx c = C_NONE;
  if (p->after_string == ST_COLON) {
    p->stack[p->depth - 1].key = match_key(p);
    return 0;
  }
  c = value_ctx(p);
  if (p->sink == SINK_META) {
    p->meta[p->meta_len++] = '\0';
    uint16_t start = (uint16_t)p->meta_start;
    uint32_t idx = p->stack[p->depth - 1].index;
    if (c == C_NODE_FIELD || c == C_EDGE_FIELD) {
      uint16_t *offs = c == C_NODE_FIELD ? p->node_field_off : p->edge_field_off;
      uint32_t *n = c == C_NODE_FIELD ? &p->node_field_n : &p->edge_field_n;
      if (idx >= MAX_FIELDS) return fail_at(p, off, "snapshot.meta lists too many fields");
      offs[idx] = start;
      *n = idx + 1;
    } else {
      uint32_t k = p->stack[p->depth - 2].index;
      if (k >= MAX_FIELDS) return fail_at(p, off, "snapshot.meta lists too many types");
      if (idx >= NMW_HS_MAX_TYPES) return fail_at(p, off, "snapshot.meta lists too many type names");
      if (c == C_NODE_TYPE) {
        p->node_types_off[k][idx] = start;
        p->node_types_n[k] = (uint8_t)(idx + 1);
      } else {
        p->edge_types_off[k][idx] = start;
        p->edge_types_n[k] = (uint8_t)(idx + 1);
      }
    }
  } else if (c == C_STRING_ELEM) {
    string_end(p);
  }
  return 0;
}

/* ---- values ---- */

static int push_frame(nmw_hs_parser *p, bool is_array, uint64_t off) {
  if (p->depth >= NMW_HS_MAX_DEPTH)
    return failf_at(p, off, "nesting deeper than %llu levels%.0llu", NMW_HS_MAX_DEPTH, 0);
  frame *f = &p->stack[p->depth++];
  f->is_array = is_array;
  f->key = K_OTHER;
  f->index = 0;
  return 0;
}

/* Marks a once-only section as seen; a second one is an error. */
static int once(nmw_hs_parser *p, bool *seen, const char *name, uint64_t off) {
  if (*seen) {
    snprintf(p->errbuf, sizeof p->errbuf, "a second \"%s\"", name);
    return fail_at(p, off, p->errbuf);
  }
  *seen = true;
  return 0;
}

/* A value starts with byte c at offset off: opens containers, strings,
 * numbers and literals, and checks that each known section has its type. */
static int value_begin(nmw_hs_parser *p, char c, uint64_t off) {
  enum ctx ctx = p->depth == 0 ? C_NONE : value_ctx(p);
  if (p->depth == 0 && c != '{') return fail_at(p, off, "a heap snapshot is a JSON object: expected '{'");
  switch (ctx) {
  case C_NODES:
  case C_EDGES:
    if (c != '[') return fail_at(p, off, ctx == C_NODES ? "\"nodes\" must be an array" : "\"edges\" must be an array");
    if (once(p, ctx == C_NODES ? &p->seen_nodes : &p->seen_edges, ctx == C_NODES ? "nodes" : "edges", off) ||
        layout(p, off) || push_frame(p, true, off))
      return -1;
    if (ctx == C_NODES) {
      /* node_count is a hint, not trusted: at most 4 M nodes are reserved ahead. */
      uint64_t hint = p->node_count_hint < (1u << 22) ? p->node_count_hint : (1u << 22);
      if (hint > p->opts.max_nodes) hint = p->opts.max_nodes;
      if (hint && reserve_nodes(p, off, hint)) return -1;
    } else {
      uint64_t hint = p->seen_nodes ? p->edge_sum : (p->edge_count_hint < (1u << 22) ? p->edge_count_hint : (1u << 22));
      if (hint > p->opts.max_edges) hint = p->opts.max_edges;
      if (hint && reserve_edges(p, off, hint)) return -1;
    }
    p->field = 0;
    p->state = ST_NUM_FIRST;
    return 0;
  case C_STRINGS:
    if (c != '[') return fail_at(p, off, "\"strings\" must be an array");
    if (once(p, &p->seen_strings, "strings", off) || layout(p, off) || plan_strings(p, off)) return -1;
    break;
  case C_SNAPSHOT:
    if (c != '{') return fail_at(p, off, "\"snapshot\" must be an object");
    if (once(p, &p->seen_snapshot, "snapshot", off)) return -1;
    break;
  case C_META:
    if (c != '{') return fail_at(p, off, "snapshot.meta must be an object");
    if (once(p, &p->seen_meta, "snapshot.meta", off)) return -1;
    break;
  case C_STRING_ELEM:
    if (c != '"') return fail_at(p, off, "\"strings\" must hold only strings");
    break;
  case C_NODE_FIELD:
  case C_EDGE_FIELD:
  case C_NODE_TYPE:
  case C_EDGE_TYPE:
    if (c != '"') return fail_at(p, off, "snapshot.meta field and type names must be strings");
    break;
  case C_NODE_COUNT:
  case C_EDGE_COUNT:
  case C_NONE:
    break;
  }
  switch (c) {
  case '{':
    if (push_frame(p, false, off)) return -1;
    p->state = ST_KEY_OR_END;
    return 0;
  case '[':
    if (push_frame(p, true, off)) return -1;
    p->state = ST_VALUE_OR_END;
    return 0;
  case '"':
    p->after_string = ST_AFTER;
    p->high_surrogate = 0;
    p->str_len = 0;
    p->str_cut = false;
    if (ctx == C_STRING_ELEM) {
      p->sink = SINK_POOL;
      if (string_begin(p, off)) return -1;
    } else if (ctx == C_NODE_FIELD || ctx == C_EDGE_FIELD || ctx == C_NODE_TYPE || ctx == C_EDGE_TYPE) {
      p->sink = SINK_META;
      p->meta_start = p->meta_len;
    } else {
      p->sink = SINK_DROP;
    }
    p->state = ST_STRING;
    return 0;
  case 't':
  case 'f':
  case 'n':
    p->literal = c == 't' ? "true" : c == 'f' ? "false" : "null";
    p->literal_pos = 1;
    p->state = ST_LITERAL;
    return 0;
  default:
    if (c == '-' || (c >= '0' && c <= '9')) {
      p->num = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
      p->num_int = c != '-';
      p->num_val = c == '-' ? 0 : (uint64_t)(c - '0');
      p->num_off = off;
      p->state = ST_NUMBER;
      return 0;
    }
    return fail_at(p, off, "expected a JSON value");
  }
}

/* A generic number ended (at off, the byte after it). */
static int number_end(nmw_hs_parser *p, uint64_t off) {
  if (p->num == N_MINUS || p->num == N_DOT || p->num == N_E || p->num == N_ESIGN)
    return fail_at(p, off, "malformed number");
  enum ctx c = value_ctx(p);
  if (c == C_NODE_COUNT || c == C_EDGE_COUNT) {
    if (!p->num_int) return fail_at(p, p->num_off, "snapshot.node_count and edge_count must be non-negative integers");
    if (c == C_NODE_COUNT) p->node_count_hint = p->num_val;
    else p->edge_count_hint = p->num_val;
  }
  p->state = ST_AFTER;
  return 0;
}

/* After a value: the enclosing container expects ',' or its end. */
static void value_done(nmw_hs_parser *p) {
  p->state = p->depth == 0 ? ST_DONE : ST_AFTER;
}

static int close_container(nmw_hs_parser *p, char c, uint64_t off) {
  frame *f = &p->stack[p->depth - 1];
  if (f->is_array ? c != ']' : c != '}') return fail_at(p, off, f->is_array ? "expected ',' or ']'" : "expected ',' or '}'");
  p->depth--;
  value_done(p);
  return 0;
}

/* ---- nodes and edges ---- */

static int node_value(nmw_hs_parser *p, uint64_t v, uint64_t off) {
  nmw_hs_graph *g = p->g;
  uint64_t n = p->node_n;
  uint32_t f = p->field;
  if (f == 0 && reserve_nodes(p, off, n + 1)) return -1;
  switch (p->node_role[f]) {
  case R_TYPE:
    if (v >= g->node_type_count)
      return failf_at(p, off, "node type %llu is not in snapshot.meta.node_types (%llu names)", v, g->node_type_count);
    g->node_type[n] = (uint8_t)v;
    break;
  case R_NAME:
    if (v >= UINT32_MAX) return fail_at(p, off, "node name index out of range");
    g->node_name[n] = (uint32_t)v;
    if (!p->any_name || v > p->max_name) {
      p->max_name = v;
      p->max_name_off = off;
      p->any_name = true;
    }
    break;
  case R_ID:
    if (v > UINT32_MAX) return fail_at(p, off, "node id does not fit 32 bits");
    g->node_id[n] = (uint32_t)v;
    break;
  case R_SIZE:
    g->node_size[n] = v;
    break;
  case R_EDGES:
    if (v > UINT32_MAX) return fail_at(p, off, "node edge count does not fit 32 bits");
    g->edge_first[n + 1] = (uint32_t)v;
    p->edge_sum += v;
    if (p->edge_sum > p->opts.max_edges)
      return failf_at(p, off, "more than %llu edges (the limit)%.0llu", p->opts.max_edges, 0);
    break;
  default:
    break;
  }
  if (++p->field == p->node_field_n) {
    p->field = 0;
    p->node_n++;
  }
  return 0;
}

static int edge_value(nmw_hs_parser *p, uint64_t v, uint64_t off) {
  nmw_hs_graph *g = p->g;
  uint64_t n = p->edge_n;
  uint32_t f = p->field;
  if (f == 0 && reserve_edges(p, off, n + 1)) return -1;
  switch (p->edge_role[f]) {
  case R_TYPE:
    if (v >= g->edge_type_count)
      return failf_at(p, off, "edge type %llu is not in snapshot.meta.edge_types (%llu names)", v, g->edge_type_count);
    g->edge_type[n] = (uint8_t)v;
    break;
  case R_NAME:
    if (v >= UINT32_MAX) return fail_at(p, off, "edge name or index out of range");
    g->edge_name[n] = (uint32_t)v;
    p->edge_name_off = off;
    break;
  case R_TO: {
    if (v % p->node_field_n != 0)
      return failf_at(p, off, "edge to_node %llu is not a multiple of the %llu node fields", v, p->node_field_n);
    uint64_t to = v / p->node_field_n;
    if (to >= UINT32_MAX) return fail_at(p, off, "edge to_node out of range");
    g->edge_to[n] = (uint32_t)to;
    if (!p->any_to || to > p->max_to) {
      p->max_to = to;
      p->max_to_off = off;
      p->any_to = true;
    }
    break;
  }
  default:
    break;
  }
  if (++p->field == p->edge_field_n) {
    /* The name's meaning depends on the type, which may come after it. */
    if (!g->edge_is_index[g->edge_type[n]] && (!p->any_name || g->edge_name[n] > p->max_name)) {
      p->max_name = g->edge_name[n];
      p->max_name_off = p->edge_name_off;
      p->any_name = true;
    }
    p->field = 0;
    p->edge_n++;
  }
  return 0;
}

static int num_value(nmw_hs_parser *p, uint64_t v, uint64_t off) {
  return key_at(p, 1) == K_NODES ? node_value(p, v, off) : edge_value(p, v, off);
}

static int nums_end(nmw_hs_parser *p, uint64_t off) {
  bool nodes = key_at(p, 1) == K_NODES;
  if (p->field != 0)
    return fail_at(p, off, nodes ? "\"nodes\" ends inside a node (its length is not a multiple of node_fields)"
                                 : "\"edges\" ends inside an edge (its length is not a multiple of edge_fields)");
  p->depth--;
  value_done(p);
  return 0;
}

#define IS_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define IS_DIGIT(c) ((unsigned char)((c) - '0') < 10)

/* ---- the fast path for nodes and edges ----
 *
 * V8 writes "nodes" and "edges" as flat runs of short integers, a record
 * (node_fields or edge_fields numbers) a line: "...,9,3,5,0,7626,0,0\n,9,...".
 * fast_nodes and fast_edges read whole records straight from the chunk into
 * the columns: the field layout is fixed for the array (field indexes from
 * snapshot.meta), so there is no per-number dispatch, no per-number call and
 * no bounds check inside a record. They take only the plain case: a record
 * that starts right after a ',' (or the '['), whose numbers have at most 15
 * digits and no leading zero, with at most 2 whitespace bytes around each
 * ',', lying wholly in the chunk, and whose values pass every check below.
 * Anything else (a record near the chunk's end, the array's last record, a
 * float, a huge or malformed number, a value out of range, a full column)
 * makes them stop at the start of that record, with the parser's state as if
 * the byte-wise loop had read up to there: that loop then reads the record
 * and reports any error with its exact offset. So results and errors do not
 * depend on the path, whatever the chunking.
 *
 * A field takes at most 2 + 15 + 2 + 1 bytes (whitespace, digits,
 * whitespace, ','), so a record needs at most FAST_FIELD_MAX * fields bytes. */
#define FAST_FIELD_MAX 20
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FAST_SWAR 1
#define FAST_INLINE __attribute__((always_inline)) inline
#else
#define FAST_SWAR 0
#define FAST_INLINE inline
#endif
#define FAST_DIGITS 15 /* under 10^15 < 2^53: no overflow check needed */

/* Reads one field at s: [ws{0,2}] digits [ws{0,2}] ','. On success stores the
 * value and the number's start and returns the byte after the ','; NULL when
 * the field is not the plain case. The caller guarantees FAST_FIELD_MAX bytes. */
static FAST_INLINE const char *fast_field(const char *s, uint64_t *out, const char **start) {
  if (!IS_DIGIT(*s)) {
    if (!IS_WS(*s)) return NULL;
    s++;
    if (!IS_DIGIT(*s)) {
      if (!IS_WS(*s)) return NULL;
      s++;
      if (!IS_DIGIT(*s)) return NULL;
    }
  }
  const char *ns = s;
  uint64_t v;
  unsigned k;
#if FAST_SWAR
  /* Eight bytes at once: the digits before the first non-digit, converted
   * together (the caller's margin covers the load). */
  uint64_t w;
  memcpy(&w, ns, 8);
  uint64_t x = w ^ 0x3030303030303030ull; /* digits become 0..9 */
  uint64_t nd = ((x + 0x0606060606060606ull) | x) & 0xF0F0F0F0F0F0F0F0ull;
  if (nd != 0) {
    k = (unsigned)__builtin_ctzll(nd) >> 3; /* 1..7: ns[0] is a digit */
    x <<= 64 - 8 * k;
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFull;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFull;
    v = (x * 10000 + (x >> 32)) & 0xFFFFFFFFull;
  } else
#endif
  {
    v = (uint64_t)(*s - '0');
    k = 1;
    while (k <= FAST_DIGITS && IS_DIGIT(ns[k])) {
      v = v * 10 + (uint64_t)(ns[k] - '0');
      k++;
    }
  }
  if (k > FAST_DIGITS || (ns[0] == '0' && k > 1)) return NULL;
  s = ns + k;
  if (*s != ',') {
    if (!IS_WS(*s)) return NULL;
    s++;
    if (*s != ',') {
      if (!IS_WS(*s)) return NULL;
      s++;
      if (*s != ',') return NULL;
    }
  }
  *out = v;
  *start = ns;
  return s + 1;
}

/* node_fields divides every to_node: common counts get a constant divisor. */
static inline uint64_t div_fields(uint64_t v, uint32_t n) {
  switch (n) {
  case 5: return v / 5;
  case 6: return v / 6;
  case 7: return v / 7;
  case 8: return v / 8;
  default: return v / n;
  }
}

/* From data[i], the start of a node record (state ST_NUM_FIRST or
 * ST_NUM_VALUE, field 0): reads whole records; returns where it stopped. */
static size_t fast_nodes(nmw_hs_parser *p, const char *data, size_t i, size_t len) {
  const uint32_t nf = p->node_field_n;
  const size_t need = (size_t)nf * FAST_FIELD_MAX;
  if (len - i < need) return i;
  const char *s = data + i;
  const char *const last = data + len - need; /* the last start with room for a record */
  nmw_hs_graph *const g = p->g;
  const uint32_t ft = p->node_fidx[0], fn = p->node_fidx[1], fi = p->node_fidx[2], fs = p->node_fidx[3],
                 fe = p->node_fidx[4];
  const uint64_t types = g->node_type_count, cap = p->node_cap, max_edges = p->opts.max_edges;
  uint64_t n = p->node_n, edge_sum = p->edge_sum, max_name = p->max_name;
  const char *max_name_at = NULL;
  bool any_name = p->any_name;
  uint64_t v[MAX_FIELDS];
  const char *at[MAX_FIELDS];
  while (s <= last && n < cap) {
    const char *r = s;
    for (uint32_t f = 0; f < nf; f++) {
      r = fast_field(r, &v[f], &at[f]);
      if (r == NULL) goto out;
    }
    if (v[ft] >= types || v[fn] >= UINT32_MAX || v[fi] > UINT32_MAX || v[fe] > UINT32_MAX ||
        edge_sum + v[fe] > max_edges)
      goto out;
    g->node_type[n] = (uint8_t)v[ft];
    g->node_name[n] = (uint32_t)v[fn];
    g->node_id[n] = (uint32_t)v[fi];
    g->node_size[n] = v[fs];
    g->edge_first[n + 1] = (uint32_t)v[fe];
    edge_sum += v[fe];
    if (!any_name || v[fn] > max_name) {
      max_name = v[fn];
      max_name_at = at[fn];
      any_name = true;
    }
    n++;
    s = r;
  }
out:
  if (s != data + i) {
    p->node_n = n;
    p->edge_sum = edge_sum;
    if (max_name_at != NULL) {
      p->max_name = max_name;
      p->max_name_off = p->base + (uint64_t)(max_name_at - data);
      p->any_name = true;
    }
    p->state = ST_NUM_VALUE;
  }
  return (size_t)(s - data);
}

/* The same for edge records. */
static size_t fast_edges(nmw_hs_parser *p, const char *data, size_t i, size_t len) {
  const uint32_t nf = p->edge_field_n;
  const size_t need = (size_t)nf * FAST_FIELD_MAX;
  if (len - i < need) return i;
  const char *s = data + i;
  const char *const last = data + len - need;
  nmw_hs_graph *const g = p->g;
  const uint32_t ft = p->edge_fidx[0], fn = p->edge_fidx[1], fto = p->edge_fidx[2];
  const uint32_t node_fields = p->node_field_n;
  const uint64_t types = g->edge_type_count, cap = p->edge_cap;
  uint64_t n = p->edge_n, max_name = p->max_name, max_to = p->max_to;
  const char *max_name_at = NULL, *max_to_at = NULL;
  bool any_name = p->any_name, any_to = p->any_to;
  uint64_t v[MAX_FIELDS];
  const char *at[MAX_FIELDS];
  while (s <= last && n < cap) {
    const char *r = s;
    for (uint32_t f = 0; f < nf; f++) {
      r = fast_field(r, &v[f], &at[f]);
      if (r == NULL) goto out;
    }
    uint64_t type = v[ft], name = v[fn], to = div_fields(v[fto], node_fields);
    if (type >= types || name >= UINT32_MAX || to * node_fields != v[fto] || to >= UINT32_MAX) goto out;
    g->edge_type[n] = (uint8_t)type;
    g->edge_name[n] = (uint32_t)name;
    g->edge_to[n] = (uint32_t)to;
    if (!any_to || to > max_to) {
      max_to = to;
      max_to_at = at[fto];
      any_to = true;
    }
    if (!g->edge_is_index[type] && (!any_name || name > max_name)) {
      max_name = name;
      max_name_at = at[fn];
      any_name = true;
    }
    n++;
    s = r;
  }
out:
  if (s != data + i) {
    p->edge_n = n;
    if (max_name_at != NULL) {
      p->max_name = max_name;
      p->max_name_off = p->base + (uint64_t)(max_name_at - data);
      p->any_name = true;
    }
    if (max_to_at != NULL) {
      p->max_to = max_to;
      p->max_to_off = p->base + (uint64_t)(max_to_at - data);
      p->any_to = true;
    }
    p->state = ST_NUM_VALUE;
  }
  return (size_t)(s - data);
}

/* The nodes/edges loop: consumes bytes from data[i] while in the ST_NUM_*
 * states and returns the index where it stopped (len, or where the generic
 * machine takes over), or SIZE_MAX after an error. */
static size_t nums(nmw_hs_parser *p, const char *data, size_t i, size_t len) {
  uint64_t base = p->base;
  bool nodes = key_at(p, 1) == K_NODES;
  size_t tried = SIZE_MAX; /* where the fast path last stopped: the byte-wise loop reads that record */
  while (i < len) {
    char c = data[i];
    switch (p->state) {
    case ST_NUM_FIRST:
    case ST_NUM_VALUE:
      if (p->field == 0 && i != tried) {
        tried = nodes ? fast_nodes(p, data, i, len) : fast_edges(p, data, i, len);
        i = tried;
        continue;
      }
      if (IS_DIGIT(c)) {
        p->nv = (uint64_t)(c - '0');
        p->nv_off = base + i;
        i++;
        if (c == '0') {
          if (i == len) { /* the next chunk may bring a digit: ST_NUM_IN rejects it (a value 0 so far) */
            p->state = ST_NUM_IN;
            return i;
          }
          if (IS_DIGIT(data[i])) return fail_at(p, base + i, "malformed number (leading zero)"), SIZE_MAX;
          p->state = ST_NUM_AFTER;
          if (num_value(p, 0, p->nv_off)) return SIZE_MAX;
          break;
        }
        p->state = ST_NUM_IN;
        break;
      }
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c == ']' && p->state == ST_NUM_FIRST) {
        i++;
        if (nums_end(p, base + i - 1)) return SIZE_MAX;
        return i;
      }
      return fail_at(p, base + i, key_at(p, 1) == K_NODES ? "\"nodes\" must hold non-negative integers"
                                                          : "\"edges\" must hold non-negative integers"),
             SIZE_MAX;
    case ST_NUM_IN: {
      uint64_t v = p->nv;
      if (v == 0 && IS_DIGIT(c)) return fail_at(p, base + i, "malformed number (leading zero)"), SIZE_MAX;
      while (i < len && IS_DIGIT(data[i])) {
        v = v * 10 + (uint64_t)(data[i] - '0');
        if (v > MAX_SAFE_INT) return fail_at(p, p->nv_off, "number too large (over 2^53)"), SIZE_MAX;
        i++;
      }
      p->nv = v;
      if (i == len) return i;
      c = data[i];
      if (c == '.' || c == 'e' || c == 'E')
        return fail_at(p, base + i, key_at(p, 1) == K_NODES ? "\"nodes\" must hold non-negative integers"
                                                            : "\"edges\" must hold non-negative integers"),
               SIZE_MAX;
      p->state = ST_NUM_AFTER;
      if (num_value(p, v, p->nv_off)) return SIZE_MAX;
      break;
    }
    case ST_NUM_AFTER:
      if (c == ',') {
        i++;
        p->state = ST_NUM_VALUE;
        /* The common case, "123,45,6": read whole numbers here, up to the
         * next record, which the fast path may take. */
        while (p->field != 0 && i < len && IS_DIGIT(data[i]) && data[i] != '0') {
          size_t s = i;
          uint64_t v = 0;
          while (i < len && IS_DIGIT(data[i]) && i - s < 15) v = v * 10 + (uint64_t)(data[i++] - '0');
          if (i == len || IS_DIGIT(data[i]) || data[i] != ',') {
            p->nv = v;
            p->nv_off = base + s;
            p->state = ST_NUM_IN;
            break;
          }
          if (num_value(p, v, base + s)) return SIZE_MAX;
          i++; /* the comma */
        }
        break;
      }
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c == ']') {
        i++;
        if (nums_end(p, base + i - 1)) return SIZE_MAX;
        return i;
      }
      if (c == '.' || c == 'e' || c == 'E')
        return fail_at(p, base + i, key_at(p, 1) == K_NODES ? "\"nodes\" must hold non-negative integers"
                                                            : "\"edges\" must hold non-negative integers"),
               SIZE_MAX;
      return fail_at(p, base + i, "expected ',' or ']'"), SIZE_MAX;
    default:
      return i;
    }
  }
  return i;
}

/* ---- the fast paths for strings and other integer arrays ---- */

/* The first '"', '\\' or control character in [s, end), or end. */
static FAST_INLINE const char *scan_plain(const char *s, const char *end) {
#if FAST_SWAR
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - s >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    /* A byte is flagged when zero in q or b or below 0x20 in w; only bytes
     * above a true match can be flagged wrongly (borrows), so the lowest
     * flag is exact. Bytes >= 0x80 are never flagged. */
    uint64_t m = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
    if (m != 0) return s + (__builtin_ctzll(m) >> 3);
    s += 8;
  }
#endif
  while (s < end && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) s++;
  return s;
}

/* State ST_AFTER at data[i] == ',' inside an array whose elements mean
 * nothing (value_ctx C_NONE: trace trees, samples, locations): skips the
 * plain integers "123" that follow, each with the ',' before it and any
 * whitespace after it, and returns where it stopped (state still ST_AFTER).
 * Anything else (a sign, a fraction, an exponent, a leading zero, a number
 * that reaches the chunk's end) is left to the byte-wise machine. */
static size_t skip_ints(nmw_hs_parser *p, const char *data, size_t i, size_t len) {
  frame *f = &p->stack[p->depth - 1];
  while (i + 1 < len && data[i] == ',' && IS_DIGIT(data[i + 1])) {
    size_t k = i + 2;
    if (data[i + 1] != '0')
      while (k < len && IS_DIGIT(data[k])) k++;
    if (k >= len) break;
    char c = data[k];
    if (c == '.' || c == 'e' || c == 'E' || IS_DIGIT(c)) break;
    f->index++;
    i = k;
    while (i < len && IS_WS(data[i])) i++;
  }
  return i;
}

/* State ST_AFTER at data[i] == ',' in "strings": reads the elements that
 * follow (',' whitespace '"' text '"') while their text has no escape and
 * ends in the chunk, keeping them as the byte-wise machine would; returns
 * where it stopped (state still ST_AFTER), or SIZE_MAX after an error. */
static size_t fast_strings(nmw_hs_parser *p, const char *data, size_t i, size_t len) {
  frame *f = &p->stack[p->depth - 1];
  const char *end = data + len;
  while (i < len && data[i] == ',') {
    const char *s = data + i + 1;
    while (s < end && IS_WS(*s)) s++;
    if (s >= end || *s != '"') break;
    const char *q = s + 1, *e = scan_plain(q, end);
    if (e == end || *e != '"') break;
    f->index++;
    p->sink = SINK_POOL;
    p->high_surrogate = 0;
    p->str_len = 0;
    p->str_cut = false;
    uint64_t off = p->base + (uint64_t)(s - data);
    if (string_begin(p, off)) return SIZE_MAX;
    if (e > q && sink_put(p, q, (size_t)(e - q), off + 1)) return SIZE_MAX;
    string_end(p);
    i = (size_t)(e + 1 - data);
    while (i < len && IS_WS(data[i])) i++;
  }
  return i;
}

/* ---- the machine ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int nmw_hs_parser_feed(nmw_hs_parser *p, const char *data, size_t len) {
  if (p->state == ST_ERROR) return -1;
  size_t i = 0;
  size_t tried = SIZE_MAX; /* where a fast path last stopped: the machine reads on from there */
  uint64_t base = p->base;
  while (i < len) {
    char c = data[i];
    switch (p->state) {
    case ST_START:
    case ST_VALUE:
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (value_begin(p, c, base + i)) return -1;
      i++;
      break;
    case ST_VALUE_OR_END:
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c == ']') {
        p->depth--;
        value_done(p);
        i++;
        break;
      }
      if (value_begin(p, c, base + i)) return -1;
      i++;
      break;
    case ST_KEY_OR_END:
    case ST_KEY:
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c == '}' && p->state == ST_KEY_OR_END) {
        p->depth--;
        value_done(p);
        i++;
        break;
      }
      if (c != '"') return fail_at(p, base + i, "expected an object key (a string)");
      p->after_string = ST_COLON;
      p->sink = SINK_KEY;
      p->key_len = 0;
      p->high_surrogate = 0;
      p->state = ST_STRING;
      i++;
      break;
    case ST_COLON:
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c != ':') return fail_at(p, base + i, "expected ':'");
      p->state = ST_VALUE;
      i++;
      break;
    case ST_AFTER:
      if (IS_WS(c)) {
        i++;
        break;
      }
      if (c == ',') {
        frame *f = &p->stack[p->depth - 1];
        if (f->is_array && i != tried) {
          enum ctx x = value_ctx(p);
          size_t j = i;
          if (x == C_STRING_ELEM) j = fast_strings(p, data, i, len);
          else if (x == C_NONE) j = skip_ints(p, data, i, len);
          if (j == SIZE_MAX) return -1;
          tried = j;
          if (j != i) {
            i = j;
            break;
          }
        }
        if (f->is_array) {
          f->index++;
          p->state = ST_VALUE;
        } else {
          p->state = ST_KEY;
        }
        i++;
        break;
      }
      if (close_container(p, c, base + i)) return -1;
      i++;
      break;
    case ST_STRING: {
      size_t s = i;
      i = (size_t)(scan_plain(data + i, data + len) - data);
      if (i > s) {
        if (p->high_surrogate && flush_surrogate(p, base + s)) return -1;
        if (sink_put(p, data + s, i - s, base + s)) return -1;
      }
      if (i == len) break;
      unsigned char b = (unsigned char)data[i];
      if (b < 0x20) return fail_at(p, base + i, "control character in a string");
      if (b == '\\') {
        p->state = ST_ESCAPE;
        i++;
        break;
      }
      if (string_close(p, base + i)) return -1;
      p->state = p->after_string;
      i++;
      break;
    }
    case ST_ESCAPE: {
      char out;
      switch (c) {
      case '"': out = '"'; break;
      case '\\': out = '\\'; break;
      case '/': out = '/'; break;
      case 'b': out = '\b'; break;
      case 'f': out = '\f'; break;
      case 'n': out = '\n'; break;
      case 'r': out = '\r'; break;
      case 't': out = '\t'; break;
      case 'u':
        p->ucode = 0;
        p->uhex = 0;
        p->state = ST_UNICODE;
        i++;
        continue;
      default: return fail_at(p, base + i, "invalid escape in a string");
      }
      if (flush_surrogate(p, base + i) || sink_put(p, &out, 1, base + i)) return -1;
      p->state = ST_STRING;
      i++;
      break;
    }
    case ST_UNICODE: {
      int h = hexval(c);
      if (h < 0) return fail_at(p, base + i, "invalid \\u escape in a string");
      p->ucode = p->ucode * 16 + (uint32_t)h;
      i++;
      if (++p->uhex < 4) break;
      uint32_t u = p->ucode;
      p->state = ST_STRING;
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (flush_surrogate(p, base + i)) return -1;
        p->high_surrogate = u;
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        uint32_t hi = p->high_surrogate;
        p->high_surrogate = 0;
        if (put_codepoint(p, hi ? 0x10000 + ((hi - 0xD800) << 10) + (u - 0xDC00) : 0xFFFD, base + i)) return -1;
      } else {
        if (flush_surrogate(p, base + i) || put_codepoint(p, u, base + i)) return -1;
      }
      break;
    }
    case ST_NUMBER: {
      bool digit = IS_DIGIT(c);
      switch (p->num) {
      case N_MINUS:
        if (!digit) return fail_at(p, base + i, "malformed number");
        p->num = c == '0' ? N_ZERO : N_INT;
        i++;
        continue;
      case N_ZERO:
        if (digit) return fail_at(p, base + i, "malformed number (leading zero)");
        break;
      case N_INT:
        if (digit) {
          if (p->num_int) {
            p->num_val = p->num_val * 10 + (uint64_t)(c - '0');
            if (p->num_val > MAX_SAFE_INT) p->num_int = false;
          }
          i++;
          continue;
        }
        break;
      case N_DOT:
        if (!digit) return fail_at(p, base + i, "malformed number");
        p->num = N_FRAC;
        i++;
        continue;
      case N_FRAC:
      case N_EXP:
        if (digit) {
          i++;
          continue;
        }
        break;
      case N_E:
        if (c == '+' || c == '-') {
          p->num = N_ESIGN;
          i++;
          continue;
        }
        /* fall through */
      case N_ESIGN:
        if (!digit) return fail_at(p, base + i, "malformed number");
        p->num = N_EXP;
        i++;
        continue;
      }
      if ((p->num == N_ZERO || p->num == N_INT) && c == '.') {
        p->num = N_DOT;
        p->num_int = false;
        i++;
        continue;
      }
      if ((p->num == N_ZERO || p->num == N_INT || p->num == N_FRAC) && (c == 'e' || c == 'E')) {
        p->num = N_E;
        p->num_int = false;
        i++;
        continue;
      }
      if (number_end(p, base + i)) return -1;
      continue; /* c is not consumed */
    }
    case ST_LITERAL:
      if (c != p->literal[p->literal_pos]) return fail_at(p, base + i, "invalid literal");
      i++;
      if (p->literal[++p->literal_pos] == '\0') value_done(p);
      break;
    case ST_NUM_FIRST:
    case ST_NUM_VALUE:
    case ST_NUM_IN:
    case ST_NUM_AFTER: {
      size_t next = nums(p, data, i, len);
      if (next == SIZE_MAX) return -1;
      i = next;
      break;
    }
    case ST_DONE:
      if (!IS_WS(c)) return fail_at(p, base + i, "text after the end of the snapshot");
      i++;
      break;
    case ST_ERROR:
      return -1;
    }
  }
  p->base += len;
  return p->state == ST_ERROR ? -1 : 0;
}

/* ---- the end ---- */

int nmw_hs_parser_finish(nmw_hs_parser *p) {
  if (p->state == ST_ERROR) return -1;
  uint64_t end = p->base;
  if (p->state != ST_DONE) {
    if (p->state == ST_START) return fail_at(p, end, "empty input");
    return fail_at(p, end, "unexpected end of input (truncated snapshot)");
  }
  if (!p->seen_meta) return fail_at(p, end, "no snapshot.meta");
  if (!p->seen_nodes) return fail_at(p, end, "no \"nodes\"");
  if (!p->seen_edges) return fail_at(p, end, "no \"edges\"");
  if (!p->seen_strings) return fail_at(p, end, "no \"strings\"");
  if (p->node_n == 0) return fail_at(p, end, "\"nodes\" is empty (a snapshot has at least its root)");
  if (p->edge_n != p->edge_sum)
    return failf_at(p, end, "the nodes' edge counts add up to %llu but \"edges\" holds %llu edges", p->edge_sum, p->edge_n);
  if (p->any_to && p->max_to >= p->node_n)
    return failf_at(p, p->max_to_off, "an edge points to node %llu of %llu", p->max_to, p->node_n);
  if (p->any_name && p->max_name >= p->string_n)
    return failf_at(p, p->max_name_off, "string index %llu is past the %llu strings", p->max_name, p->string_n);
  nmw_hs_graph *g = p->g;
  g->node_count = (uint32_t)p->node_n;
  g->edge_count = (uint32_t)p->edge_n;
  g->string_count = (uint32_t)(p->string_n < p->off_cap ? p->string_n : p->off_cap);
  g->edge_first[0] = 0;
  for (uint64_t i = 0; i < p->node_n; i++) g->edge_first[i + 1] += g->edge_first[i];
  if (g->string_pool == NULL && !grow((void **)&g->string_pool, 1, 1)) return fail_at(p, end, "out of memory");
  return 0;
}

nmw_hs_graph *nmw_hs_parser_take_graph(nmw_hs_parser *p) {
  if (p->state != ST_DONE || p->g == NULL || p->g->node_count == 0) return NULL;
  nmw_hs_graph *g = p->g;
  p->g = NULL;
  return g;
}
