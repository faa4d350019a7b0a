/*
 * sample.c: a small addon that allocates through native-memwatch. It is the
 * complete example of docs/c-api.md, and examples/demo.js drives it.
 *
 *   loadImage(width, height) -> n   an RGBA image, under "sample:images"
 *   dropImages(count)               frees the `count` oldest images
 *   cachePut(key, value)            copies both strings, under "sample:cache"
 *   cacheClear()                    frees every cache entry
 *   parse(text) -> words            splits text into words (scratch memory) and
 *                                   keeps each new word in a symbol table, all
 *                                   under "sample:parser"
 *   thumbnailsAsync(count, bytes)   makes `count` thumbnails of `bytes` each on
 *     -> Promise<number>            the libuv thread pool, under "sample:thumbs"
 *                                   (an external tag: reported to V8)
 *   dropThumbnails(batches)         frees the `batches` oldest thumbnail batches
 *   importStatus                    what nmw_import() returned: "ok", "not-loaded", ...
 *
 * Without native-memwatch the addon works the same, untracked. All state is per
 * environment (instance data), so the addon also loads in worker threads.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native_memwatch.h"

/* On failure: throw (unless an exception is pending) and return NULL. */
#define NODE_API_CALL(env, call)                                                  \
  do {                                                                            \
    if ((call) != napi_ok) {                                                      \
      const napi_extended_error_info *info_ = NULL;                               \
      bool pending_ = false;                                                      \
      napi_get_last_error_info((env), &info_);                                    \
      napi_is_exception_pending((env), &pending_);                                \
      if (!pending_)                                                              \
        napi_throw_error((env), NULL, info_ && info_->error_message               \
                                          ? info_->error_message                  \
                                          : "Node-API call failed");              \
      return NULL;                                                                \
    }                                                                             \
  } while (0)

typedef struct image {
  struct image *next;
  uint32_t width, height;
  unsigned char *pixels;
} image_t;

typedef struct entry {
  struct entry *next;
  char *key, *value;
} entry_t;

typedef struct batch { /* the thumbnails of one thumbnailsAsync() call */
  struct batch *next;
  size_t count;
  void **thumbs;
} batch_t;

typedef struct sample { /* one per environment */
  int import_rc;
  nmw_tag_t images, cache, parser, thumbs;
  image_t *oldest_image, *newest_image;
  uint32_t image_count;
  entry_t *entries;
  char **symbols;
  size_t symbol_count, symbol_cap;
  batch_t *oldest_batch, *newest_batch;
} sample_t;

typedef struct job { /* one thumbnailsAsync() call */
  napi_async_work work;
  napi_deferred deferred;
  napi_env env; /* only a key on the pool thread: it names the owner of the bytes */
  sample_t *state;
  nmw_tag_t tag;
  size_t bytes;
  batch_t *batch;
} job_t;

/* ---- helpers ---- */

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* Reads up to max arguments (missing ones are undefined); returns the state that
 * every function was created with, or NULL with an exception pending. */
static sample_t *get_args(napi_env env, napi_callback_info info, size_t max, napi_value *argv) {
  size_t argc = max;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    throw_error(env, "cannot read the arguments");
    return NULL;
  }
  for (size_t i = argc; i < max; i++) napi_get_undefined(env, &argv[i]);
  return (sample_t *)data;
}

static bool get_u32(napi_env env, napi_value value, const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, value, out) == napi_ok) return true;
  char message[64];
  snprintf(message, sizeof message, "%s must be a number", name);
  napi_throw_type_error(env, NULL, message);
  return false;
}

/* Copies a JS string into a block of tag, credited to the caller's call site:
 * the get_string() macro passes NMW_SITE() from where it is used. */
static char *get_string_at(napi_env env, napi_value value, const char *name, nmw_tag_t tag,
                           nmw_site_t *site) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a string", name);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  char *copy = (char *)nmw_malloc_at(length + 1, tag, site);
  if (copy == NULL) {
    throw_error(env, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, copy, length + 1, &length);
  return copy;
}
#define get_string(env, value, name, tag) get_string_at((env), (value), (name), (tag), NMW_SITE())

/* ---- images ---- */

static void drop_images(sample_t *s, size_t count) {
  while (count-- > 0 && s->oldest_image != NULL) {
    image_t *img = s->oldest_image;
    s->oldest_image = img->next;
    if (s->oldest_image == NULL) s->newest_image = NULL;
    s->image_count--;
    nmw_free(img->pixels, s->images);
    nmw_free(img, s->images);
  }
}

static napi_value js_load_image(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  uint32_t width, height;
  sample_t *s = get_args(env, info, 2, argv);
  if (s == NULL || !get_u32(env, argv[0], "width", &width) ||
      !get_u32(env, argv[1], "height", &height))
    return NULL;
  /* Two call sites: the small record and the large pixel buffer. */
  image_t *img = (image_t *)nmw_malloc(sizeof *img, s->images);
  unsigned char *pixels = (unsigned char *)nmw_calloc((size_t)width * height, 4, s->images);
  if (img == NULL || pixels == NULL) {
    nmw_free(pixels, s->images); /* nmw_free(NULL, tag) does nothing, as free(NULL) */
    nmw_free(img, s->images);
    return throw_error(env, "out of memory (or over the limit of sample:images)");
  }
  img->next = NULL;
  img->width = width;
  img->height = height;
  img->pixels = pixels;
  if (s->newest_image != NULL)
    s->newest_image->next = img;
  else
    s->oldest_image = img;
  s->newest_image = img;
  s->image_count++;
  NODE_API_CALL(env, napi_create_uint32(env, s->image_count, &result));
  return result;
}

static napi_value js_drop_images(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t count;
  sample_t *s = get_args(env, info, 1, argv);
  if (s == NULL || !get_u32(env, argv[0], "count", &count)) return NULL;
  drop_images(s, count);
  return NULL; /* undefined */
}

/* ---- cache ---- */

static void clear_cache(sample_t *s) {
  while (s->entries != NULL) {
    entry_t *e = s->entries;
    s->entries = e->next;
    nmw_free(e->key, s->cache);
    nmw_free(e->value, s->cache);
    nmw_free(e, s->cache);
  }
}

static napi_value js_cache_put(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  sample_t *s = get_args(env, info, 2, argv);
  if (s == NULL) return NULL;
  entry_t *e = (entry_t *)nmw_malloc(sizeof *e, s->cache);
  if (e == NULL) return throw_error(env, "out of memory");
  e->key = get_string(env, argv[0], "key", s->cache);
  e->value = e->key != NULL ? get_string(env, argv[1], "value", s->cache) : NULL;
  if (e->value == NULL) { /* an exception is pending */
    nmw_free(e->key, s->cache);
    nmw_free(e, s->cache);
    return NULL;
  }
  e->next = s->entries;
  s->entries = e;
  return NULL;
}

static napi_value js_cache_clear(napi_env env, napi_callback_info info) {
  sample_t *s = get_args(env, info, 0, NULL);
  if (s != NULL) clear_cache(s);
  return NULL;
}

/* ---- parser ---- */

/* Keeps one copy of each distinct word (kept until the environment exits). */
static bool intern(sample_t *s, const char *word) {
  for (size_t i = 0; i < s->symbol_count; i++)
    if (strcmp(s->symbols[i], word) == 0) return true;
  if (s->symbol_count == s->symbol_cap) {
    size_t cap = s->symbol_cap ? s->symbol_cap * 2 : 64;
    char **bigger = (char **)nmw_realloc(s->symbols, cap * sizeof *bigger, s->parser);
    if (bigger == NULL) return false;
    s->symbols = bigger;
    s->symbol_cap = cap;
  }
  char *copy = nmw_strdup(word, s->parser);
  if (copy == NULL) return false;
  s->symbols[s->symbol_count++] = copy;
  return true;
}

static napi_value js_parse(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  sample_t *s = get_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  char *text = get_string(env, argv[0], "text", s->parser); /* scratch, freed below */
  if (text == NULL) return NULL;
  char **words = NULL; /* scratch too: grown with nmw_realloc */
  size_t count = 0, cap = 0;
  bool ok = true;
  for (char *p = text; ok && *p != '\0';) {
    size_t n = strcspn(p, " \t\r\n.,;:!?");
    if (n == 0) {
      p++;
      continue;
    }
    char *word = p;
    p += n;
    if (*p != '\0') *p++ = '\0';
    if (count == cap) {
      size_t grown = cap ? cap * 2 : 16;
      char **bigger = (char **)nmw_realloc(words, grown * sizeof *bigger, s->parser);
      if (bigger == NULL) {
        ok = false;
        break;
      }
      words = bigger;
      cap = grown;
    }
    words[count++] = word;
  }
  for (size_t i = 0; ok && i < count; i++) ok = intern(s, words[i]);
  nmw_free(words, s->parser);
  nmw_free(text, s->parser);
  if (!ok) return throw_error(env, "out of memory");
  NODE_API_CALL(env, napi_create_uint32(env, (uint32_t)count, &result));
  return result;
}

/* ---- thumbnails, made on the libuv thread pool ---- */

static void free_batch(nmw_tag_t tag, batch_t *b) {
  for (size_t i = 0; i < b->count; i++) nmw_free(b->thumbs[i], tag);
  nmw_free(b->thumbs, tag);
  nmw_free(b, tag);
}

static void drop_batches(sample_t *s, size_t count) {
  while (count-- > 0 && s->oldest_batch != NULL) {
    batch_t *b = s->oldest_batch;
    s->oldest_batch = b->next;
    if (s->oldest_batch == NULL) s->newest_batch = NULL;
    free_batch(s->thumbs, b);
  }
}

/* A pool thread: no JS, no Node-API. The _env variants name the environment that
 * owns the external bytes, since this thread has none of its own. */
static void make_thumbnails(napi_env unused, void *data) {
  (void)unused;
  job_t *job = (job_t *)data;
  batch_t *b = job->batch;
  for (size_t i = 0; i < b->count; i++) {
    /* A decoding buffer twice the thumbnail's size, freed at once. */
    unsigned char *scratch = (unsigned char *)nmw_malloc_env(2 * job->bytes, job->tag, job->env);
    unsigned char *thumb = (unsigned char *)nmw_malloc_env(job->bytes, job->tag, job->env);
    if (scratch != NULL && thumb != NULL) {
      memset(scratch, (int)(i & 0xff), 2 * job->bytes);
      memcpy(thumb, scratch, job->bytes);
    }
    nmw_free(scratch, job->tag);
    b->thumbs[i] = thumb; /* NULL when out of memory */
  }
}

/* Back on the JS thread. */
static void thumbnails_done(napi_env env, napi_status status, void *data) {
  job_t *job = (job_t *)data;
  sample_t *s = job->state;
  batch_t *b = job->batch;
  napi_value result = NULL;
  uint32_t made = 0;
  for (size_t i = 0; i < b->count; i++) made += b->thumbs[i] != NULL;
  if (s->newest_batch != NULL)
    s->newest_batch->next = b;
  else
    s->oldest_batch = b;
  s->newest_batch = b;
  if (status == napi_ok && napi_create_uint32(env, made, &result) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, "thumbnailsAsync failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_thumbnails_async(napi_env env, napi_callback_info info) {
  napi_value argv[2], promise, name;
  uint32_t count, bytes;
  sample_t *s = get_args(env, info, 2, argv);
  if (s == NULL || !get_u32(env, argv[0], "count", &count) ||
      !get_u32(env, argv[1], "bytes", &bytes))
    return NULL;
  /* Bookkeeping that nobody needs to see can stay on plain libc. */
  job_t *job = (job_t *)calloc(1, sizeof *job);
  batch_t *b = (batch_t *)nmw_calloc(1, sizeof *b, s->thumbs);
  void **thumbs = (void **)nmw_calloc(count ? count : 1, sizeof *thumbs, s->thumbs);
  if (job == NULL || b == NULL || thumbs == NULL) {
    free(job);
    nmw_free(b, s->thumbs);
    nmw_free(thumbs, s->thumbs);
    return throw_error(env, "out of memory");
  }
  b->count = count;
  b->thumbs = thumbs;
  job->env = env;
  job->state = s;
  job->tag = s->thumbs;
  job->bytes = bytes;
  job->batch = b;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "sample.thumbnails", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, make_thumbnails, thumbnails_done, job,
                             &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free_batch(s->thumbs, b);
    free(job);
    return throw_error(env, "cannot start the async work");
  }
  return promise;
}

static napi_value js_drop_thumbnails(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t batches;
  sample_t *s = get_args(env, info, 1, argv);
  if (s == NULL || !get_u32(env, argv[0], "batches", &batches)) return NULL;
  drop_batches(s, batches);
  return NULL;
}

/* ---- init and teardown ---- */

static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sample_t *s = (sample_t *)data;
  drop_images(s, SIZE_MAX);
  clear_cache(s);
  drop_batches(s, SIZE_MAX);
  for (size_t i = 0; i < s->symbol_count; i++) nmw_free(s->symbols[i], s->parser);
  nmw_free(s->symbols, s->parser);
  free(s);
}

static const char *status_name(int rc) {
  switch (rc) {
    case NMW_OK: return "ok";
    case NMW_ENOTLOADED: return "not-loaded";
    case NMW_EVERSION: return "version-mismatch";
    default: return "napi-error";
  }
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  sample_t *s = (sample_t *)calloc(1, sizeof *s);
  if (s == NULL) return throw_error(env, "out of memory");

  /* Find native-memwatch in this environment. Whatever the result, the nmw_*
   * calls work: without it they are plain allocation. */
  s->import_rc = nmw_import(env);

  /* Tags are process-wide, and registering a name again returns the same id.
   * Without native-memwatch they are NMW_UNTAGGED. */
  s->images = nmw_tag("sample:images");
  s->cache = nmw_tag("sample:cache");
  s->parser = nmw_tag("sample:parser");
  s->thumbs = NMW_UNTAGGED;
  (void)nmw_tag_register("sample:thumbs", NMW_TAG_EXTERNAL, &s->thumbs);

  if (napi_set_instance_data(env, s, free_state, NULL) != napi_ok) {
    free(s);
    return throw_error(env, "napi_set_instance_data failed");
  }

  static const struct {
    const char *name;
    napi_callback cb;
  } functions[] = {
      {"loadImage", js_load_image},
      {"dropImages", js_drop_images},
      {"cachePut", js_cache_put},
      {"cacheClear", js_cache_clear},
      {"parse", js_parse},
      {"thumbnailsAsync", js_thumbnails_async},
      {"dropThumbnails", js_drop_thumbnails},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    NODE_API_CALL(env, napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH,
                                            functions[i].cb, s, &fn));
    NODE_API_CALL(env, napi_set_named_property(env, exports, functions[i].name, fn));
  }
  napi_value status;
  NODE_API_CALL(env, napi_create_string_utf8(env, status_name(s->import_rc), NAPI_AUTO_LENGTH,
                                             &status));
  NODE_API_CALL(env, napi_set_named_property(env, exports, "importStatus", status));
  return exports;
}
