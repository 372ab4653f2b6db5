/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enums with names, as upstream declares them: from one list of items, VACCEL_ENUM makes
 *   typedef enum { PREFIX_ITEM = value, ..., PREFIX_MAX = max } type_t;
 *   const char *type_to_str(type_t)       "PREFIX_ITEM", or "PREFIX_MAX" for any other value
 *   const char *type_to_base_str(type_t)  "ITEM", or "MAX"
 *   char *type_name(type_t, char *lower, size_t size)  "item" written into `lower`
 * A list is a macro taking the item macro and the prefix: LIST(X, P) is X(P, ITEM, value) ...
 */
#pragma once

#include "vaccel/utils/str.h"
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { VACCEL_ENUM_STR_MAX = 128 };

#define VACCEL_ENUM_ITEM_(prefix, item, value) prefix##_##item = (value),
#define VACCEL_ENUM_CASE_(prefix, item, value) \
	case prefix##_##item:                  \
		return #prefix "_" #item;
#define VACCEL_ENUM_BASE_CASE_(prefix, item, value) \
	case prefix##_##item:                       \
		return #item;

#define VACCEL_ENUM(type, prefix, max, LIST)                                          \
	typedef enum { LIST(VACCEL_ENUM_ITEM_, prefix) prefix##_MAX = (max) } type##_t; \
	static inline const char *type##_to_str(type##_t value)                        \
	{                                                                               \
		switch (value) {                                                        \
			LIST(VACCEL_ENUM_CASE_, prefix)                                 \
		default:                                                                \
			return #prefix "_MAX";                                          \
		}                                                                       \
	}                                                                               \
	static inline const char *type##_to_base_str(type##_t value)                   \
	{                                                                               \
		switch (value) {                                                        \
			LIST(VACCEL_ENUM_BASE_CASE_, prefix)                            \
		default:                                                                \
			return "MAX";                                                   \
		}                                                                       \
	}                                                                               \
	static inline char *type##_name(type##_t value, char *lower, size_t size)      \
	{                                                                               \
		if (!lower || !size)                                                    \
			return NULL;                                                    \
		vaccel_str_to_lower(type##_to_base_str(value), lower, size, NULL);     \
		return lower;                                                           \
	}

#ifdef __cplusplus
}
#endif
