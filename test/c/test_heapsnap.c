/*
 * test_heapsnap.c: the streaming heap snapshot parser (src/core/heapsnap_*.c):
 * columns read from small known snapshots whatever the chunking, the field
 * layout taken from snapshot.meta, memwatch's reachability and names, exact
 * diffs by id, shortest retainer paths, and errors with their byte offsets.
 */
#include "test_util.h"

#include "../../src/core/heapsnap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_V8                                                                                       \
  "{\"snapshot\":{\"meta\":{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\","    \
  "\"trace_node_id\",\"detachedness\"],\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\","   \
  "\"code\",\"closure\",\"regexp\",\"number\",\"native\",\"synthetic\",\"concatenated string\","        \
  "\"sliced string\",\"symbol\",\"bigint\",\"object shape\"],\"string\",\"number\",\"number\","         \
  "\"number\",\"number\",\"number\"],\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"        \
  "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","        \
  "\"weak\"],\"string_or_number\",\"node\"]},\"node_count\":8,\"edge_count\":6},\n"

/* Snapshot A: root -a-> Root{ [0] -> Foo#5, weak -> Foo#7 }, root -b-> arr,
 * root -hd-> HeapDiff -x-> Foo#13; Foo#15 unreachable. */
#define NODES_A                                                                               \
  "\"nodes\":[9,0,1,0,3,0,0\n,3,1,3,32,2,0,0\n,3,2,5,16,0,0,0\n,3,2,7,16,0,0,0\n,1,3,9,100,0,0,0" \
  "\n,3,7,11,50,1,0,0\n,3,2,13,16,0,0,0\n,3,2,15,16,0,0,0],\n"
#define EDGES_A "\"edges\":[2,4,7,2,5,28,2,8,35\n,1,0,14,6,6,21\n,3,9,42],\n"
#define STRINGS \
  "\"strings\":[\"\",\"Root\",\"Foo\",\"arr\",\"a\",\"b\",\"w\",\"HeapDiff\",\"hd\",\"x\"]}\n"

static const char snap_a[] = META_V8 NODES_A EDGES_A "\"trace_function_infos\":[],\"samples\":[],"
                                                     "\"locations\":[]," STRINGS;

/* Snapshot B: Foo#7 freed; Foo#17 (under Root, [1]) and Foo#19 (under Root, [2])
 * allocated; arr grew to 120 bytes. */
static const char snap_b[] =
    META_V8
    "\"nodes\":[9,0,1,0,3,0,0,3,1,3,32,3,0,0,3,2,5,16,0,0,0,3,2,17,16,0,0,0,1,3,9,120,0,0,0"
    ",3,7,11,50,1,0,0,3,2,13,16,0,0,0,3,2,19,24,0,0,0],"
    "\"edges\":[2,4,7,2,5,28,2,8,35,1,0,14,1,1,21,1,2,49,3,9,42]," STRINGS;

/* Feeds text in chunks of step bytes (0: all at once) and finishes. */
static nmw_hs_parser *parse_chunked(const char *text, size_t len, size_t step, const nmw_hs_options *o) {
  nmw_hs_parser *p = nmw_hs_parser_new(o);
  assert_non_null(p);
  if (step == 0) step = len ? len : 1;
  for (size_t i = 0; i < len; i += step) {
    size_t n = len - i < step ? len - i : step;
    if (nmw_hs_parser_feed(p, text + i, n) != 0) return p;
  }
  nmw_hs_parser_finish(p);
  return p;
}

static nmw_hs_graph *parse_ok(const char *text, size_t step) {
  nmw_hs_parser *p = parse_chunked(text, strlen(text), step, NULL);
  uint64_t off;
  const char *err = nmw_hs_parser_error(p, &off);
  if (err != NULL) print_error("unexpected error: %s at %llu\n", err, (unsigned long long)off);
  assert_null(err);
  nmw_hs_graph *g = nmw_hs_parser_take_graph(p);
  assert_non_null(g);
  nmw_hs_parser_free(p);
  return g;
}

static void test_columns_any_chunking(void **state) {
  (void)state;
  static const size_t steps[] = {0, 1, 2, 3, 7, 64, 1000};
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    nmw_hs_graph *g = parse_ok(snap_a, steps[s]);
    assert_int_equal(g->node_count, 8);
    assert_int_equal(g->edge_count, 6);
    static const uint32_t ids[] = {1, 3, 5, 7, 9, 11, 13, 15};
    static const uint64_t sizes[] = {0, 32, 16, 16, 100, 50, 16, 16};
    static const uint32_t first[] = {0, 3, 5, 5, 5, 5, 6, 6, 6};
    for (uint32_t i = 0; i < 8; i++) {
      assert_int_equal(g->node_id[i], ids[i]);
      assert_int_equal(g->node_size[i], sizes[i]);
    }
    for (uint32_t i = 0; i < 9; i++) assert_int_equal(g->edge_first[i], first[i]);
    static const uint32_t to[] = {1, 4, 5, 2, 3, 6};
    for (uint32_t e = 0; e < 6; e++) assert_int_equal(g->edge_to[e], to[e]);
    assert_string_equal(g->node_type_names[g->node_type[0]], "synthetic");
    assert_string_equal(nmw_hs_graph_what(g, 1), "Root");
    assert_string_equal(nmw_hs_graph_what(g, 4), "Array");
    assert_null(nmw_hs_graph_what(g, 0));
    /* Only object names are kept by default. */
    assert_string_equal(nmw_hs_graph_string(g, 2), "Foo");
    assert_null(nmw_hs_graph_string(g, 4));
    nmw_hs_graph_free(g);
  }
}

static void test_layout_from_meta(void **state) {
  (void)state;
  /* Fields in another order, an extra field, other type names. */
  static const char text[] =
      "{\"snapshot\":{\"meta\":{\"node_fields\":[\"id\",\"extra\",\"edge_count\",\"name\",\"self_size\","
      "\"type\"],\"node_types\":[\"number\",\"number\",\"number\",\"string\",\"number\",[\"synthetic\","
      "\"object\",\"closure\"]],\"edge_fields\":[\"to_node\",\"type\",\"name_or_index\"],\"edge_types\":"
      "[\"node\",[\"weak\",\"element\",\"property\"],\"string_or_number\"]}},"
      "\"nodes\":[1,0,1,0,0,0, 2,9,0,1,40,1, 3,9,0,2,8,2],"
      "\"edges\":[6,2,0],"
      "\"strings\":[\"\",\"Widget\",\"fn\"]}";
  nmw_hs_graph *g = parse_ok(text, 5);
  assert_int_equal(g->node_count, 3);
  assert_int_equal(g->node_id[1], 2);
  assert_int_equal(g->node_size[1], 40);
  assert_string_equal(nmw_hs_graph_what(g, 1), "Widget");
  assert_string_equal(nmw_hs_graph_what(g, 2), "Closure");
  assert_int_equal(g->edge_to[0], 1);
  assert_string_equal(g->edge_type_names[g->edge_type[0]], "property");
  nmw_hs_digest *d = nmw_hs_digest_new(g, NULL);
  assert_int_equal(d->count, 2); /* the root and Widget; fn has no retainer */
  assert_int_equal(d->size_bytes, 40);
  nmw_hs_digest_free(d);
  nmw_hs_graph_free(g);
}

static void test_digest_memwatch_reachability(void **state) {
  (void)state;
  nmw_hs_graph *g = parse_ok(snap_a, 0);
  nmw_hs_digest *d = nmw_hs_digest_new(g, "HeapDiff");
  assert_non_null(d);
  assert_int_equal(d->node_count, 8);
  assert_int_equal(d->count, 5); /* weak edges count; HeapDiff and below do not */
  assert_int_equal(d->size_bytes, 164);
  static const uint32_t ids[] = {1, 3, 5, 7, 9};
  for (uint32_t i = 0; i < 5; i++) assert_int_equal(d->id[i], ids[i]);
  assert_int_equal(d->class_count, 3);
  for (uint32_t c = 0; c < d->class_count; c++) {
    const char *name = nmw_hs_digest_class(d, c);
    if (strcmp(name, "Foo") == 0) {
      assert_int_equal(d->class_nodes[c], 2);
      assert_int_equal(d->class_bytes[c], 32);
    } else if (strcmp(name, "Root") == 0) {
      assert_int_equal(d->class_nodes[c], 1);
    } else {
      assert_string_equal(name, "Array");
      assert_int_equal(d->class_bytes[c], 100);
    }
  }
  nmw_hs_digest_free(d);
  d = nmw_hs_digest_new(g, NULL);
  assert_int_equal(d->count, 7);
  assert_int_equal(d->size_bytes, 230);
  nmw_hs_digest_free(d);
  nmw_hs_graph_free(g);
}

static void test_diff_exact(void **state) {
  (void)state;
  nmw_hs_graph *ga = parse_ok(snap_a, 0), *gb = parse_ok(snap_b, 3);
  nmw_hs_digest *a = nmw_hs_digest_new(ga, "HeapDiff"), *b = nmw_hs_digest_new(gb, "HeapDiff");
  nmw_hs_diff *d = nmw_hs_diff_new(a, b, 1);
  assert_non_null(d);
  assert_int_equal(d->freed_nodes, 1);
  assert_int_equal(d->allocated_nodes, 2);
  assert_int_equal(d->size_bytes, (int64_t)b->size_bytes - (int64_t)a->size_bytes);
  assert_int_equal(b->size_bytes, 0 + 32 + 16 + 16 + 120 + 24);
  /* arr kept its id: a size change of a surviving node is no allocation. */
  assert_int_equal(d->change_count, 1);
  assert_string_equal(d->changes[0].what, "Foo");
  assert_int_equal(d->changes[0].added, 2);
  assert_int_equal(d->changes[0].released, 1);
  assert_int_equal(d->changes[0].size_bytes, 16 + 24 - 16);
  assert_int_equal(d->changes[0].sample_count, 1);
  assert_int_equal(d->changes[0].sample_ids[0], 17);
  nmw_hs_diff_free(d);
  /* Reversed: the same nodes, freed and allocated swapped. */
  d = nmw_hs_diff_new(b, a, 4);
  assert_int_equal(d->freed_nodes, 2);
  assert_int_equal(d->allocated_nodes, 1);
  assert_int_equal(d->changes[0].sample_count, 1);
  assert_int_equal(d->changes[0].sample_ids[0], 7);
  nmw_hs_diff_free(d);
  nmw_hs_digest_free(a);
  nmw_hs_digest_free(b);
  nmw_hs_graph_free(ga);
  nmw_hs_graph_free(gb);
}

static void test_diff_sorted_bytewise(void **state) {
  (void)state;
  /* Classes named "b", "B", "a" and an Array: memwatch's std::map order. */
  static const char before[] = META_V8 "\"nodes\":[9,0,1,0,0,0,0],\"edges\":[],\"strings\":[\"\"]}";
  static const char after[] =
      META_V8 "\"nodes\":[9,0,1,0,4,0,0,3,1,3,1,0,0,0,3,2,5,2,0,0,0,3,3,7,3,0,0,0,1,0,9,4,0,0,0],"
              "\"edges\":[1,0,7,1,1,14,1,2,21,1,3,28],\"strings\":[\"\",\"b\",\"B\",\"a\"]}";
  nmw_hs_graph *ga = parse_ok(before, 0), *gb = parse_ok(after, 0);
  nmw_hs_digest *a = nmw_hs_digest_new(ga, NULL), *b = nmw_hs_digest_new(gb, NULL);
  nmw_hs_diff *d = nmw_hs_diff_new(a, b, 0);
  assert_int_equal(d->change_count, 4);
  assert_string_equal(d->changes[0].what, "Array");
  assert_string_equal(d->changes[1].what, "B");
  assert_string_equal(d->changes[2].what, "a");
  assert_string_equal(d->changes[3].what, "b");
  assert_null(d->changes[0].sample_ids);
  nmw_hs_diff_free(d);
  nmw_hs_digest_free(a);
  nmw_hs_digest_free(b);
  nmw_hs_graph_free(ga);
  nmw_hs_graph_free(gb);
}

static void test_retainer_paths(void **state) {
  (void)state;
  nmw_hs_options o = {0};
  o.keep_all_names = 1;
  nmw_hs_parser *p = parse_chunked(snap_a, strlen(snap_a), 11, &o);
  nmw_hs_graph *g = nmw_hs_parser_take_graph(p);
  nmw_hs_parser_free(p);
  assert_non_null(g);
  assert_string_equal(nmw_hs_graph_string(g, 4), "a"); /* edge names kept */
  nmw_hs_paths *paths = nmw_hs_paths_new(g, "HeapDiff");
  uint32_t nodes[8], edges[8];
  uint32_t n2 = nmw_hs_paths_find(paths, 5);
  assert_int_equal(n2, 2);
  assert_int_equal(nmw_hs_paths_get(paths, n2, nodes, edges, 8), 3);
  assert_int_equal(nodes[0], 0);
  assert_int_equal(nodes[1], 1);
  assert_int_equal(nodes[2], 2);
  assert_int_equal(edges[0], 0);
  assert_int_equal(edges[1], 3);
  /* Only a weak edge leads to Foo#7; HeapDiff is not entered; #15 is unreachable. */
  assert_int_equal(nmw_hs_paths_get(paths, nmw_hs_paths_find(paths, 7), nodes, edges, 8), 0);
  assert_int_equal(nmw_hs_paths_get(paths, nmw_hs_paths_find(paths, 13), nodes, edges, 8), 0);
  assert_int_equal(nmw_hs_paths_find(paths, 4), UINT32_MAX);
  /* A short buffer gets the first nodes; the length is still the whole path's. */
  nodes[1] = 77;
  assert_int_equal(nmw_hs_paths_get(paths, n2, nodes, edges, 1), 3);
  assert_int_equal(nodes[0], 0);
  assert_int_equal(nodes[1], 77);
  nmw_hs_paths_free(paths);
  nmw_hs_graph_free(g);
}

static void test_strings_escapes(void **state) {
  (void)state;
  static const char text[] = META_V8
      "\"nodes\":[9,0,1,0,1,0,0,3,1,3,8,0,0,0],\"edges\":[2,0,7],"
      "\"strings\":[\"\",\"A\\u00e9\\ud83d\\ude00\\n\\\"q\\\\\\/\\ud800x\"]}";
  nmw_hs_graph *g = parse_ok(text, 1);
  assert_string_equal(nmw_hs_graph_string(g, 1), "A\xc3\xa9\xf0\x9f\x98\x80\n\"q\\/\xef\xbf\xbdx");
  nmw_hs_graph_free(g);
}

static void test_long_string_cut(void **state) {
  (void)state;
  size_t n = 3000;
  char *text = malloc(sizeof META_V8 + n * 2 + 200);
  int len = sprintf(text, "%s\"nodes\":[9,0,1,0,1,0,0,3,1,3,8,0,0,0],\"edges\":[2,0,7],\"strings\":[\"\",\"", META_V8);
  for (size_t i = 0; i < n / 2; i++) len += sprintf(text + len, "\xc3\xa9"); /* 2-byte characters */
  sprintf(text + len, "x\"]}");
  nmw_hs_graph *g = parse_ok(text, 100);
  const char *s = nmw_hs_graph_string(g, 1);
  assert_int_equal(strlen(s), NMW_HS_MAX_KEPT_STRING);
  assert_int_equal((unsigned char)s[NMW_HS_MAX_KEPT_STRING - 1], 0xa9);
  nmw_hs_graph_free(g);
  /* Odd cut: a lead byte at the end is dropped, not left dangling. */
  len = sprintf(text, "%s\"nodes\":[9,0,1,0,1,0,0,3,1,3,8,0,0,0],\"edges\":[2,0,7],\"strings\":[\"\",\"x", META_V8);
  for (size_t i = 0; i < n / 2; i++) len += sprintf(text + len, "\xc3\xa9");
  sprintf(text + len, "\"]}");
  g = parse_ok(text, 0);
  assert_int_equal(strlen(nmw_hs_graph_string(g, 1)), NMW_HS_MAX_KEPT_STRING - 1);
  nmw_hs_graph_free(g);
  free(text);
}

/* ---- errors ---- */

static void expect_error(const char *text, size_t len, const char *want, uint64_t want_off) {
  static const size_t steps[] = {0, 1, 5};
  for (size_t s = 0; s < 3; s++) {
    nmw_hs_parser *p = parse_chunked(text, len, steps[s], NULL);
    uint64_t off = 0;
    const char *err = nmw_hs_parser_error(p, &off);
    if (err == NULL || strstr(err, want) == NULL || off != want_off) {
      print_error("step %zu: expected \"%s\" at %llu, got \"%s\" at %llu\n", steps[s], want,
                  (unsigned long long)want_off, err ? err : "(none)", (unsigned long long)off);
      fail();
    }
    assert_null(nmw_hs_parser_take_graph(p));
    nmw_hs_parser_free(p);
  }
}

/* The offset of the first occurrence of needle in text. */
static uint64_t at(const char *text, const char *needle) {
  const char *s = strstr(text, needle);
  assert_non_null(s);
  return (uint64_t)(s - text);
}

static void replace_into(char *out, const char *text, const char *from, const char *to) {
  const char *s = strstr(text, from);
  assert_non_null(s);
  size_t pre = (size_t)(s - text);
  memcpy(out, text, pre);
  strcpy(out + pre, to);
  strcat(out, s + strlen(from));
}

static void test_errors_truncated(void **state) {
  (void)state;
  size_t len = strlen(snap_a);
  expect_error("", 0, "empty input", 0);
  expect_error(snap_a, len / 2, "unexpected end of input", len / 2);
  expect_error(snap_a, len - 2, "unexpected end of input", len - 2);
  expect_error(snap_a, 1, "unexpected end of input", 1);
}

static void test_errors_corrupt(void **state) {
  (void)state;
  char buf[4096];
  expect_error("[1,2]", 5, "expected '{'", 0);
  expect_error("{\"a\":1}  x", 10, "text after the end", 9);
  expect_error("{\"a\":01}", 8, "leading zero", 6);
  expect_error("{\"a\":\"\x01\"}", 8, "control character", 6);
  expect_error("{\"a\":\"\\q\"}", 10, "invalid escape", 7);
  expect_error("{\"a\":tru}", 9, "invalid literal", 8);
  expect_error("{\"a\":1,}", 8, "expected an object key", 7);
  expect_error("{\"a\" 1}", 7, "expected ':'", 5);
  /* An edge to a node past the end (node 8 of 8): the offset of that number. */
  replace_into(buf, snap_a, "3,9,42]", "3,9,56]");
  expect_error(buf, strlen(buf), "an edge points to node 8 of 8", at(buf, "56]"));
  replace_into(buf, snap_a, "3,9,42]", "3,9,43]");
  expect_error(buf, strlen(buf), "not a multiple of the 7 node fields", at(buf, "43]"));
  replace_into(buf, snap_a, "[9,0,1,0,3", "[99,0,1,0,3");
  expect_error(buf, strlen(buf), "node type 99 is not in snapshot.meta.node_types", at(buf, "99,"));
  replace_into(buf, snap_a, "[9,0,1,0,3", "[9,0,1,99999999999999999999,3");
  expect_error(buf, strlen(buf), "number too large", at(buf, "99999"));
  replace_into(buf, snap_a, "[9,0,1,0,3", "[9,0,1,-4,3");
  expect_error(buf, strlen(buf), "\"nodes\" must hold non-negative integers", at(buf, "-4"));
  replace_into(buf, snap_a, "[9,0,1,0,3", "[9,0,1,0.5,3");
  expect_error(buf, strlen(buf), "\"nodes\" must hold non-negative integers", at(buf, ".5"));
  replace_into(buf, snap_a, ",3,2,15,16,0,0,0]", ",3,2,15,16,0,0]");
  expect_error(buf, strlen(buf), "\"nodes\" ends inside a node", at(buf, "0,0],") + 3);
  replace_into(buf, snap_a, "\"strings\":[", "\"strings\":[7,");
  expect_error(buf, strlen(buf), "\"strings\" must hold only strings", at(buf, "7,\"\""));
  replace_into(buf, snap_a, "\"HeapDiff\",\"hd\",\"x\"]", "\"HeapDiff\"]");
  expect_error(buf, strlen(buf), "string index 9 is past the 8 strings", at(buf, "9,42]"));
  replace_into(buf, snap_a, "3,9,42]", "3,9,42,2,4,7]");
  expect_error(buf, strlen(buf), "edge counts add up to 6 but \"edges\" holds 7", strlen(buf));
  replace_into(buf, snap_a, "\"nodes\":[", "\"nodes\":[],\"nodes\":[");
  expect_error(buf, strlen(buf), "a second \"nodes\"", at(buf, "[],") + 11);
}

static void test_errors_meta(void **state) {
  (void)state;
  char buf[4096];
  replace_into(buf, snap_a, "\"name\",\"id\",", "\"name\",\"ident\",");
  expect_error(buf, strlen(buf), "snapshot.meta.node_fields has no \"id\"", at(buf, "[9,0,1"));
  replace_into(buf, snap_a, "\"to_node\"]", "\"to\"]");
  expect_error(buf, strlen(buf), "edge_fields has no \"to_node\"", at(buf, "[9,0,1"));
  /* No meta before the nodes. */
  static const char nometa[] = "{\"nodes\":[1,2],\"edges\":[],\"strings\":[]}";
  expect_error(nometa, strlen(nometa), "snapshot.meta must come before", 9);
  replace_into(buf, snap_a, "\"node_fields\":[\"type\"", "\"node_fields\":[7");
  expect_error(buf, strlen(buf), "must be strings", at(buf, "7,\"name"));
  replace_into(buf, snap_a, "\"node_types\":[[", "\"node_types\":[\"x\",[");
  expect_error(buf, strlen(buf), "no names for the node type field", at(buf, "[9,0,1"));
}

static void test_errors_hostile(void **state) {
  (void)state;
  /* Deep nesting stops at the limit, wherever it is. */
  char deep[200];
  size_t n = 0;
  n += (size_t)sprintf(deep, "{\"x\":");
  for (int i = 0; i < 100; i++) deep[n++] = '[';
  deep[n] = '\0';
  expect_error(deep, n, "nesting deeper than 64 levels", 5 + 63);
  /* A huge node_count is a hint, not an allocation. */
  char buf[4096];
  replace_into(buf, snap_a, "\"node_count\":8", "\"node_count\":900000000000000");
  nmw_hs_graph *g = parse_ok(buf, 0);
  assert_int_equal(g->node_count, 8);
  nmw_hs_graph_free(g);
  /* Limits from the options. */
  nmw_hs_options o = {0};
  o.max_nodes = 4;
  nmw_hs_parser *p = parse_chunked(snap_a, strlen(snap_a), 0, &o);
  uint64_t off;
  const char *err = nmw_hs_parser_error(p, &off);
  assert_non_null(err);
  assert_non_null(strstr(err, "more than 4 nodes"));
  assert_int_equal(off, at(snap_a, "1,3,9,100"));
  nmw_hs_parser_free(p);
  o.max_nodes = 0;
  o.max_string_bytes = 8;
  p = parse_chunked(snap_a, strlen(snap_a), 0, &o);
  err = nmw_hs_parser_error(p, &off);
  assert_non_null(err);
  assert_non_null(strstr(err, "kept strings exceed 8 bytes"));
  nmw_hs_parser_free(p);
  /* Calls after an error keep failing. */
  p = nmw_hs_parser_new(NULL);
  assert_int_equal(nmw_hs_parser_feed(p, "]", 1), -1);
  assert_int_equal(nmw_hs_parser_feed(p, "{", 1), -1);
  assert_int_equal(nmw_hs_parser_finish(p), -1);
  nmw_hs_parser_free(p);
}

/* ---- the fast paths: the same results and errors as the byte-wise machine ---- */

/* A V8-shaped snapshot big enough for the record, string and integer fast
 * paths (they need a record's worth of bytes left in the chunk): n object
 * nodes under a synthetic root, "\n," between records as V8 writes them,
 * self sizes of 1 to 13 digits, strings with and without escapes, and a
 * locations array of plain integers. */
static size_t make_big(char *out, size_t cap, uint32_t n) {
  size_t len = 0;
#define PUT(...) (len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__))
  PUT("%s", META_V8);
  PUT("\"nodes\":[9,0,1,0,%u,0,0", n);
  for (uint32_t i = 1; i <= n; i++) {
    unsigned long long size = i % 5 == 0 ? 1234567890123ull / i : i % 3 == 0 ? 100000000ull + i : 16ull * i;
    PUT("\n,3,%u,%u,%llu,%u,0,0", 1 + i % 6, 1 + 2 * i, size, i < n ? 1u : 0u);
  }
  PUT("],\n\"edges\":[");
  for (uint32_t i = 1; i <= n; i++) PUT("%s2,%u,%u", i == 1 ? "" : "\n,", 7 + i % 3, 7 * i); /* root -> each */
  for (uint32_t i = 1; i < n; i++) PUT("\n,1,%u,%u", i, 7 * (i + 1));                      /* i -[i]-> i + 1 */
  PUT("],\n\"locations\":[");
  for (uint32_t i = 0; i < 12; i++) PUT("%s%u,%u,%u,%u", i ? "\n," : "", i * 7, i % 4, 100 + i, i * 13);
  PUT("],\n\"strings\":[\"\",\"Foo\",\"Bar\\\\baz\",\"caf\\u00e9\",\"HeapDiff\",\"item-1\",\"item-22\",\n\"p\","
      "\n\"q\",\"r\\\"s\"");
  for (uint32_t i = 0; i < 20; i++) PUT(",\n\"str-%u-%.*s\"", i, (int)(i % 11), "abcdefghijkl");
  PUT("]}\n");
#undef PUT
  assert_true(len < cap);
  return len;
}

/* Parses text fed in steps of `step` bytes (0: whole) and describes the
 * outcome in out: the error and its offset, or every column of the graph. */
static void outcome(const char *text, size_t len, size_t step, const nmw_hs_options *o, char *out, size_t cap) {
  nmw_hs_parser *p = parse_chunked(text, len, step, o);
  uint64_t off = 0;
  const char *err = nmw_hs_parser_error(p, &off);
  size_t n = 0;
  if (err != NULL) {
    snprintf(out, cap, "error \"%s\" at %llu", err, (unsigned long long)off);
    nmw_hs_parser_free(p);
    return;
  }
  nmw_hs_graph *g = nmw_hs_parser_take_graph(p);
  assert_non_null(g);
  nmw_hs_parser_free(p);
  n += (size_t)snprintf(out + n, cap - n, "%u nodes %u edges %u strings\n", g->node_count, g->edge_count, g->string_count);
  for (uint32_t i = 0; i < g->node_count && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "n%u %u %u %llu %u;", g->node_type[i], g->node_name[i], g->node_id[i],
                          (unsigned long long)g->node_size[i], g->edge_first[i + 1]);
  for (uint32_t i = 0; i < g->edge_count && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "e%u %u %u;", g->edge_type[i], g->edge_name[i], g->edge_to[i]);
  for (uint32_t i = 0; i < g->string_count && n < cap; i++) {
    const char *s = nmw_hs_graph_string(g, i);
    n += (size_t)snprintf(out + n, cap - n, "s[%s]", s ? s : "(not kept)");
  }
  assert_true(n < cap);
  nmw_hs_graph_free(g);
}

static void same_outcomes(const char *text, size_t len, const nmw_hs_options *o, const char *what, size_t k) {
  enum { CAP = 1 << 16 };
  static char ref[CAP], got[CAP];
  static const size_t steps[] = {0, 150, 97};
  outcome(text, len, 1, o, ref, CAP); /* one byte at a time: no fast path can run */
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    outcome(text, len, steps[s], o, got, CAP);
    if (strcmp(ref, got) != 0) {
      print_error("%s at %zu, step %zu:\n  byte-wise: %.300s\n  chunked:   %.300s\n", what, k, steps[s], ref, got);
      fail();
    }
  }
}

static void test_fast_paths_equivalent(void **state) {
  (void)state;
  enum { CAP = 8192 };
  static char text[CAP], mut[CAP + 8];
  size_t len = make_big(text, CAP, 40);
  /* The whole snapshot, with the default options and with limits the fast
   * paths run into (nodes, edges, kept string bytes), keeping all names. */
  nmw_hs_options opts[5];
  memset(opts, 0, sizeof opts);
  opts[1].max_nodes = 30;
  opts[2].max_edges = 60;
  opts[3].max_string_bytes = 40;
  opts[4].keep_all_names = 1;
  for (size_t o = 0; o < 5; o++) same_outcomes(text, len, &opts[o], "options", o);
  nmw_hs_graph *g = parse_ok(text, 0);
  assert_int_equal(g->node_count, 41);
  assert_int_equal(g->edge_count, 79);
  assert_int_equal(g->node_size[5], 1234567890123ull / 5);
  assert_string_equal(nmw_hs_graph_string(g, 3), "caf\xc3\xa9");
  nmw_hs_graph_free(g);
  /* One byte changed, removed or doubled anywhere: the same error (message
   * and offset) or the same graph whichever path read it. */
  static const char subst[] = "07,\n.-e\"\\] 9";
  for (size_t k = 0; k < len; k++) {
    for (int kind = 0; kind < 2; kind++) {
      size_t m = len;
      memcpy(mut, text, len);
      char c = subst[(k * (kind ? 7 : 1) + (size_t)kind) % (sizeof subst - 1)];
      if (kind == 0) {
        mut[k] = c;
      } else if (k % 2) {
        memmove(mut + k, mut + k + 1, len - k - 1); /* removed */
        m = len - 1;
      } else {
        memmove(mut + k + 1, mut + k, len - k); /* doubled */
        m = len + 1;
      }
      same_outcomes(mut, m, NULL, kind ? "removed or doubled byte" : "changed byte", k);
    }
  }
}

/* nmw_hs_summary_new: the digest's counts, without its columns. */
static void same_counts(const nmw_hs_graph *g, const char *skip) {
  nmw_hs_digest *d = nmw_hs_digest_new(g, skip), *s = nmw_hs_summary_new(g, skip);
  assert_non_null(d);
  assert_non_null(s);
  assert_null(s->id);
  assert_null(s->cls);
  assert_null(s->size);
  assert_int_equal(s->node_count, d->node_count);
  assert_int_equal(s->count, d->count);
  assert_int_equal(s->size_bytes, d->size_bytes);
  assert_int_equal(s->class_count, d->class_count);
  for (uint32_t c = 0; c < d->class_count; c++) {
    uint32_t k = 0;
    while (k < s->class_count && strcmp(nmw_hs_digest_class(s, k), nmw_hs_digest_class(d, c)) != 0) k++;
    assert_true(k < s->class_count);
    assert_int_equal(s->class_nodes[k], d->class_nodes[c]);
    assert_int_equal(s->class_bytes[k], d->class_bytes[c]);
  }
  nmw_hs_digest_free(d);
  nmw_hs_digest_free(s);
}

static void test_summary_counts(void **state) {
  (void)state;
  static char text[8192];
  make_big(text, sizeof text, 40);
  const char *texts[] = {snap_a, snap_b, text};
  for (size_t i = 0; i < 3; i++) {
    nmw_hs_graph *g = parse_ok(texts[i], 0);
    same_counts(g, "HeapDiff");
    same_counts(g, NULL);
    same_counts(g, "Foo");
    nmw_hs_graph_free(g);
  }
}

/* The same heap written with numeric values exposed (numeric) and without
 * (plain): root -a-> Root{n: smi 7, h: heap number 0.5}. With them V8 adds a
 * "smi number" node (size 0) and a "value" string (size 0) under each number;
 * without, the heap number hangs by a hidden edge. The digests are equal. */
#define NUM_STRINGS \
  "\"strings\":[\"\",\"Root\",\"a\",\"n\",\"h\",\"smi number\",\"heap number\",\"value\",\"7\",\"0.5\"]}\n"
static const char snap_numeric[] = META_V8
    "\"nodes\":[9,0,1,0,1,0,0,3,1,3,32,2,0,0,7,5,101,0,1,0,0,7,6,5,16,1,0,0,2,8,103,0,0,0,0,2,9,105,0,0,0,0],"
    "\"edges\":[2,2,7,2,3,14,2,4,21,3,7,28,3,7,35]," NUM_STRINGS;
static const char snap_plain[] = META_V8
    "\"nodes\":[9,0,1,0,1,0,0,3,1,3,32,1,0,0,7,6,5,16,0,0,0],"
    "\"edges\":[2,2,7,4,1,14]," NUM_STRINGS;

static void test_digest_numeric_values(void **state) {
  (void)state;
  nmw_hs_graph *gn = parse_ok(snap_numeric, 0), *gp = parse_ok(snap_plain, 5);
  nmw_hs_digest *dn = nmw_hs_digest_new(gn, "HeapDiff"), *dp = nmw_hs_digest_new(gp, "HeapDiff");
  assert_non_null(dn);
  assert_non_null(dp);
  assert_int_equal(gn->node_count, 6);
  nmw_hs_digest *ds[] = {dn, dp};
  for (int k = 0; k < 2; k++) {
    nmw_hs_digest *d = ds[k];
    assert_int_equal(d->node_count, 3);
    assert_int_equal(d->count, 3);
    assert_int_equal(d->size_bytes, 48);
    static const uint32_t ids[] = {1, 3, 5};
    for (uint32_t i = 0; i < 3; i++) assert_int_equal(d->id[i], ids[i]);
    assert_int_equal(d->class_count, 2);
    for (uint32_t c = 0; c < d->class_count; c++) {
      const char *name = nmw_hs_digest_class(d, c);
      if (strcmp(name, "Number") == 0) {
        assert_int_equal(d->class_nodes[c], 1);
        assert_int_equal(d->class_bytes[c], 16);
      } else {
        assert_string_equal(name, "Root");
        assert_int_equal(d->class_nodes[c], 1);
      }
    }
  }
  nmw_hs_diff *diff = nmw_hs_diff_new(dp, dn, 2);
  assert_non_null(diff);
  assert_int_equal(diff->freed_nodes, 0);
  assert_int_equal(diff->allocated_nodes, 0);
  assert_int_equal(diff->change_count, 0);
  nmw_hs_diff_free(diff);
  nmw_hs_digest_free(dn);
  nmw_hs_digest_free(dp);
  same_counts(gn, "HeapDiff");
  same_counts(gp, NULL);
  nmw_hs_graph_free(gn);
  nmw_hs_graph_free(gp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_columns_any_chunking),
      cmocka_unit_test(test_layout_from_meta),
      cmocka_unit_test(test_digest_memwatch_reachability),
      cmocka_unit_test(test_diff_exact),
      cmocka_unit_test(test_diff_sorted_bytewise),
      cmocka_unit_test(test_retainer_paths),
      cmocka_unit_test(test_strings_escapes),
      cmocka_unit_test(test_long_string_cut),
      cmocka_unit_test(test_errors_truncated),
      cmocka_unit_test(test_errors_corrupt),
      cmocka_unit_test(test_errors_meta),
      cmocka_unit_test(test_errors_hostile),
      cmocka_unit_test(test_fast_paths_equivalent),
      cmocka_unit_test(test_summary_counts),
      cmocka_unit_test(test_digest_numeric_values),
  };
  return cmocka_run_group_tests_name("heapsnap", tests, NULL, NULL);
}
