/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intrusive list links, as upstream's structs embed them. This library keeps its own
 * bookkeeping elsewhere: the lists in the structs it fills are initialised empty (each
 * head points to itself) and stay so; use the API functions to enumerate.
 */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_list_entry {
	struct vaccel_list_entry *next;
	struct vaccel_list_entry *prev;
};

typedef struct vaccel_list_entry vaccel_list_t;

/* An entry initialised as an empty list (a static initialiser, as upstream's). */
#define LIST_ENTRY_INIT(name) { &(name), &(name) }

#ifdef __cplusplus
}
#endif
