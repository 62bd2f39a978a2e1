#include <mongoc/mongoc.h>

/* Swift imports the over-aligned bson_t and bson_iter_t as opaque types, so it cannot size them or
   read their fields; these accessors give it exactly what C knows. */
static inline size_t musicetl_bson_iter_size(void) { return sizeof(bson_iter_t); }
static inline size_t musicetl_bson_iter_alignment(void) { return _Alignof(bson_iter_t); }
static inline uint32_t musicetl_bson_length(const bson_t *document) { return document->len; }

/* Storage for a child bson_t (bson_append_document_begin / bson_append_array_begin). */
static inline size_t musicetl_bson_size(void) { return sizeof(bson_t); }
static inline size_t musicetl_bson_alignment(void) { return _Alignof(bson_t); }
