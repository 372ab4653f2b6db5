/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arguments: struct vaccel_arg (one argument) and struct vaccel_arg_array (a growable
 * array with typed add / get / set helpers).
 *
 * Ownership: adding a value stores a POINTER to the caller's memory — it is not copied — so
 * write args receive results in place and must outlive the call. Only buffers made by the
 * API (add_serialized, vaccel_arg_new) are owned (`owned = true`) and freed by release.
 * `get_*` read the arg at `position` and advance it; `set_*` copy a value into the arg at
 * `position` (checking type and size) and advance it. Every function returns VACCEL_EINVAL
 * for NULL pointers and for a type or size mismatch.
 *
 * Not thread-safe: use an array from one thread at a time.
 */
#pragma once

#include "vaccel/utils/enum.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_ARG_TYPES_(X, P) \
	X(P, RAW, 0) \
	X(P, INT8, 1) \
	X(P, INT8_ARRAY, 2) \
	X(P, INT16, 3) \
	X(P, INT16_ARRAY, 4) \
	X(P, INT32, 5) \
	X(P, INT32_ARRAY, 6) \
	X(P, INT64, 7) \
	X(P, INT64_ARRAY, 8) \
	X(P, UINT8, 9) \
	X(P, UINT8_ARRAY, 10) \
	X(P, UINT16, 11) \
	X(P, UINT16_ARRAY, 12) \
	X(P, UINT32, 13) \
	X(P, UINT32_ARRAY, 14) \
	X(P, UINT64, 15) \
	X(P, UINT64_ARRAY, 16) \
	X(P, FLOAT32, 17) \
	X(P, FLOAT32_ARRAY, 18) \
	X(P, FLOAT64, 19) \
	X(P, FLOAT64_ARRAY, 20) \
	X(P, BOOL, 21) \
	X(P, BOOL_ARRAY, 22) \
	X(P, CHAR, 23) \
	X(P, CHAR_ARRAY, 24) \
	X(P, UCHAR, 25) \
	X(P, UCHAR_ARRAY, 26) \
	X(P, STRING, 27) \
	X(P, BUFFER, 28) \
	X(P, CUSTOM, 29)
VACCEL_ENUM(vaccel_arg_type, VACCEL_ARG, 30, VACCEL_ARG_TYPES_)

/* One argument. Field names and layout are ABI (upstream's). */
struct vaccel_arg {
	void *buf;               /* argument bytes */
	size_t size;             /* number of bytes at buf */
	vaccel_arg_type_t type;  /* VACCEL_ARG_* */
	uint32_t custom_type_id; /* application type id, for VACCEL_ARG_CUSTOM */
	bool owned;              /* buf was allocated by the API and is freed by it */
};

/* A growable array of arguments. */
struct vaccel_arg_array {
	struct vaccel_arg *args; /* the arguments; pass with `count` to ops */
	size_t count;            /* arguments added */
	size_t capacity;         /* room allocated */
	size_t position;         /* next argument get/set reads or writes */
	bool owned;              /* `args` was allocated by the API */
};

typedef bool (*vaccel_arg_type_validator_fn)(const void *buf, size_t size, uint32_t custom_id);
typedef int (*vaccel_arg_serializer_fn)(const void *data, size_t data_size, uint32_t custom_id,
					void **buf, size_t *size);
typedef int (*vaccel_arg_deserializer_fn)(const void *buf, size_t size, uint32_t custom_id,
					  size_t data_size, void *data);

/* Single args. _init/_new copy `buf` (owned); _init_from_buf/_from_buf point at it. */
int vaccel_arg_init(struct vaccel_arg *arg, const void *buf, size_t size, vaccel_arg_type_t type,
		    uint32_t custom_id);
int vaccel_arg_init_from_buf(struct vaccel_arg *arg, void *buf, size_t size,
			     vaccel_arg_type_t type, uint32_t custom_id);
int vaccel_arg_release(struct vaccel_arg *arg);
int vaccel_arg_new(struct vaccel_arg **arg, const void *buf, size_t size, vaccel_arg_type_t type,
		   uint32_t custom_id);
int vaccel_arg_from_buf(struct vaccel_arg **arg, void *buf, size_t size, vaccel_arg_type_t type,
			uint32_t custom_id);
int vaccel_arg_delete(struct vaccel_arg *arg);

/* Arrays. Every _init has a _release and every _new a _delete; releasing twice returns
 * VACCEL_EINVAL. */
int vaccel_arg_array_init(struct vaccel_arg_array *array, size_t initial_capacity);
int vaccel_arg_array_release(struct vaccel_arg_array *array);
int vaccel_arg_array_new(struct vaccel_arg_array **array, size_t initial_capacity);
int vaccel_arg_array_delete(struct vaccel_arg_array *array);
/* View `count` existing args (not owned; used inside exec'd functions). */
int vaccel_arg_array_wrap(struct vaccel_arg_array *array, struct vaccel_arg *args, size_t count);
/* Free owned arg buffers, reset count and position; keeps the allocation. */
void vaccel_arg_array_clear(struct vaccel_arg_array *array);

int vaccel_arg_array_add_raw(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_get_raw(struct vaccel_arg_array *array, void **buf, size_t *size);
int vaccel_arg_array_set_raw(struct vaccel_arg_array *array, void *buf, size_t size);

#define VACCEL_ARG_ARRAY_TYPED_FUNCS_(NAME, CTYPE)                                              \
	int vaccel_arg_array_add_##NAME(struct vaccel_arg_array *array, CTYPE *value);          \
	int vaccel_arg_array_add_##NAME##_array(struct vaccel_arg_array *array, CTYPE *values,  \
						size_t count);                                  \
	int vaccel_arg_array_get_##NAME(struct vaccel_arg_array *array, CTYPE *value);          \
	int vaccel_arg_array_get_##NAME##_array(struct vaccel_arg_array *array, CTYPE **values, \
						size_t *count);                                 \
	int vaccel_arg_array_set_##NAME(struct vaccel_arg_array *array, CTYPE *value);          \
	int vaccel_arg_array_set_##NAME##_array(struct vaccel_arg_array *array, CTYPE *values,  \
						size_t count);

VACCEL_ARG_ARRAY_TYPED_FUNCS_(int8, int8_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(int16, int16_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(int32, int32_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(int64, int64_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(uint8, uint8_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(uint16, uint16_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(uint32, uint32_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(uint64, uint64_t)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(float, float)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(double, double)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(bool, bool)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(char, char)
VACCEL_ARG_ARRAY_TYPED_FUNCS_(uchar, unsigned char)

/* Strings (VACCEL_ARG_STRING, size includes the NUL) and buffers (VACCEL_ARG_BUFFER). */
int vaccel_arg_array_add_string(struct vaccel_arg_array *array, char *str);
int vaccel_arg_array_get_string(struct vaccel_arg_array *array, char **str);
int vaccel_arg_array_set_string(struct vaccel_arg_array *array, char *str);
int vaccel_arg_array_add_buffer(struct vaccel_arg_array *array, void *buf, size_t size);
int vaccel_arg_array_get_buffer(struct vaccel_arg_array *array, void **buf, size_t *size);
int vaccel_arg_array_set_buffer(struct vaccel_arg_array *array, void *buf, size_t size);

/* Custom types; `validator` may be NULL. */
int vaccel_arg_array_add_custom(struct vaccel_arg_array *array, uint32_t custom_id, void *buf,
				size_t size, vaccel_arg_type_validator_fn validator);
int vaccel_arg_array_get_custom(struct vaccel_arg_array *array, uint32_t expected_id, void **buf,
				size_t *size, vaccel_arg_type_validator_fn validator);
int vaccel_arg_array_set_custom(struct vaccel_arg_array *array, uint32_t expected_id, void *buf,
				size_t size, vaccel_arg_type_validator_fn validator);

/* Serialized data: the serializer allocates the buffer with malloc(); the array owns it. */
int vaccel_arg_array_add_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t type,
				    uint32_t custom_id, const void *data, size_t data_size,
				    vaccel_arg_serializer_fn serializer);
int vaccel_arg_array_get_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t expected_type,
				    uint32_t expected_custom_id, void *data, size_t expected_size,
				    vaccel_arg_deserializer_fn deserializer);
int vaccel_arg_array_set_serialized(struct vaccel_arg_array *array, vaccel_arg_type_t expected_type,
				    uint32_t expected_custom_id, void *data, size_t data_size,
				    vaccel_arg_serializer_fn serializer);

/* Position and counts. */
/* Append `count` args of `src` starting at `start_idx` (VACCEL_ERANGE outside it), its
 * remaining args (from its position), or all of them: viewing the same buffers, or, with
 * `copy`, owned copies (freed by dest's release). */
int vaccel_arg_array_add_range(struct vaccel_arg_array *dest, const struct vaccel_arg_array *src,
			       size_t start_idx, size_t count, bool copy);
int vaccel_arg_array_add_remaining(struct vaccel_arg_array *dest,
				   const struct vaccel_arg_array *src, bool copy);
int vaccel_arg_array_add_all(struct vaccel_arg_array *dest, const struct vaccel_arg_array *src,
			     bool copy);
int vaccel_arg_array_get_remaining(struct vaccel_arg_array *array, struct vaccel_arg **args,
				   size_t *count);
size_t vaccel_arg_array_remaining_count(const struct vaccel_arg_array *array);
size_t vaccel_arg_array_position(const struct vaccel_arg_array *array);
void vaccel_arg_array_set_position(struct vaccel_arg_array *array, size_t position);
void vaccel_arg_array_reset_position(struct vaccel_arg_array *array);
size_t vaccel_arg_array_count(const struct vaccel_arg_array *array);
struct vaccel_arg *vaccel_arg_array_raw(struct vaccel_arg_array *array);

/* Upstream's deprecated argument lists, kept so older programs build: a fixed-size list of
 * args, filled in order; "serial" args point at the caller's bytes, "nonserial" ones hold
 * what a serializer malloc'ed (freed by vaccel_delete_args). Writes are bounded by the
 * arg's size. */
struct vaccel_arg_list {
	uint32_t size;
	struct vaccel_arg *list;
	uint32_t curr_idx;
	int *idcs_allocated_space;
};

struct vaccel_arg_list *vaccel_args_init(uint32_t size);
int vaccel_add_serial_arg(struct vaccel_arg_list *args, void *buf, uint32_t size);
int vaccel_add_nonserial_arg(struct vaccel_arg_list *args, void *buf, uint32_t type,
			     void *(*serializer)(void *, uint32_t *));
int vaccel_expect_serial_arg(struct vaccel_arg_list *args, void *buf, uint32_t size);
int vaccel_expect_nonserial_arg(struct vaccel_arg_list *args, uint32_t expected_size);
void *vaccel_extract_serial_arg(struct vaccel_arg *args, int idx);
void *vaccel_extract_nonserial_arg(struct vaccel_arg *args, int idx,
				   void *(*deserializer)(void *, uint32_t));
int vaccel_write_serial_arg(struct vaccel_arg *args, int idx, void *buf);
int vaccel_write_nonserial_arg(struct vaccel_arg *args, int idx, void *buf,
			       void *(*serializer)(void *, uint32_t *));
int vaccel_delete_args(struct vaccel_arg_list *args);

#ifdef __cplusplus
}
#endif
