/*
 * harness.c - the NDIS side of a native target's child process (pytest-offload).
 *
 * Built by the suite with the system C compiler into a small shared library that is
 * loaded (RTLD_GLOBAL) before the vendor's library, so that the vendor's calls to
 * NdisSetOptionalHandlers, NdisMInitiateOffloadComplete, NdisMGetOffloadHandlers and the
 * handlers it hands out resolve here. Every call a target makes is queued as an event in
 * C: a completion from a thread the vendor started never enters Python. At an initiate's
 * completion the tree's memory is copied, inside the completing call, so what the target
 * wrote after completing is told apart from what it completed with. The Python side
 * (_target.py) reads events with pyo_wait and compares memory with pyo_diff.
 */
#define _GNU_SOURCE /* backtrace(), sigaltstack() */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define OFFLOAD_HARNESS_NO_LAYOUT_TAG /* the vendor library carries its own */
#include "offload_harness.h"

#define PYO_EVENTS 8192
#define PYO_TREES 4096

enum {
    PYO_INITIATE_COMPLETE = 1,
    PYO_SEND_COMPLETE = 2,
    PYO_TERMINATE_COMPLETE = 3,
    PYO_UPDATE_COMPLETE = 4,
    PYO_INVALIDATE_COMPLETE = 5,
    PYO_QUERY_COMPLETE = 6,
    PYO_EVENT_INDICATE = 7,
    PYO_TCP_EVENT = 8,
    PYO_SECOND_REGISTRATION = 10,
};

typedef struct {
    int32_t kind;
    int32_t tree;       /* index of the registered tree a completion names, or -1 */
    uint64_t handle;    /* the NdisMiniportHandle (or NdisOffloadHandle) passed */
    uint64_t pointer;   /* the block list or NBL chain passed */
    uint64_t info;      /* EventType / IndicationCode */
    uint64_t info2;     /* EventSpecificInformation */
    uint64_t thread;    /* pthread_self() of the caller */
} pyo_event;

typedef struct {
    void *root;
    unsigned char *base;
    size_t size;
    unsigned char *copy;   /* the memory as it was at the first completion */
    int completions;
    uint64_t serial;       /* names this registration (an index is reused) */
} pyo_tree;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static pyo_event events[PYO_EVENTS];
static unsigned head, count;
static pyo_tree trees[PYO_TREES];
static NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS characteristics;
static int registered;
static uint64_t serials;

static pthread_cond_t drained = PTHREAD_COND_INITIALIZER;

static void push(int32_t kind, int32_t tree, void *handle, void *pointer, uint64_t info,
                 uint64_t info2) {
    /* called with the lock held. A full queue makes the caller wait for the dispatcher
     * (NDIS takes every call; none is dropped): the dispatcher never calls the target,
     * so it always drains. */
    while (count == PYO_EVENTS)
        pthread_cond_wait(&drained, &lock);
    pyo_event *e = &events[(head + count) % PYO_EVENTS];
    e->kind = kind;
    e->tree = tree;
    e->handle = (uint64_t)(uintptr_t)handle;
    e->pointer = (uint64_t)(uintptr_t)pointer;
    e->info = info;
    e->info2 = info2;
    e->thread = (uint64_t)(uintptr_t)pthread_self();
    count++;
    pthread_cond_signal(&arrived);
}

static void queue(int32_t kind, void *handle, void *pointer, uint64_t info, uint64_t info2) {
    pthread_mutex_lock(&lock);
    push(kind, -1, handle, pointer, info, info2);
    pthread_mutex_unlock(&lock);
}

/* -- what NDIS provides a miniport ----------------------------------------------------- */

NDIS_STATUS NdisSetOptionalHandlers(NDIS_HANDLE NdisHandle,
                                    PNDIS_DRIVER_OPTIONAL_HANDLERS OptionalHandlers) {
    (void)NdisHandle;
    if (OptionalHandlers == NULL)
        return NDIS_STATUS_FAILURE;
    if (OptionalHandlers->Header.Type != NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS)
        return NDIS_STATUS_FAILURE; /* only the chimney's generic table is known here */
    pthread_mutex_lock(&lock);
    memcpy(&characteristics, OptionalHandlers, sizeof characteristics);
    if (registered)
        push(PYO_SECOND_REGISTRATION, -1, NdisHandle, OptionalHandlers, 0, 0);
    registered = 1;
    pthread_mutex_unlock(&lock);
    return NDIS_STATUS_SUCCESS;
}

/* A completion of any of the five operations: the tree the pointer lies in (its root,
 * or, wrongly, another of its blocks), its memory copied at its first completion of any
 * kind, inside the completing call. */
static void completed(int32_t kind, NDIS_HANDLE handle, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST list) {
    pthread_mutex_lock(&lock);
    int found = -1;
    unsigned char *at = (unsigned char *)list;
    for (int i = 0; i < PYO_TREES; i++) {
        if (trees[i].root != NULL && at >= trees[i].base && at < trees[i].base + trees[i].size) {
            found = i;
            break;
        }
    }
    if (found >= 0 && trees[found].completions++ == 0)
        memcpy(trees[found].copy, trees[found].base, trees[found].size);
    push(kind, found, handle, list, found >= 0 ? trees[found].serial : 0, 0);
    pthread_mutex_unlock(&lock);
}

VOID NdisMInitiateOffloadComplete(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) {
    completed(PYO_INITIATE_COMPLETE, h, l);
}
VOID NdisMTerminateOffloadComplete(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) {
    completed(PYO_TERMINATE_COMPLETE, h, l);
}
VOID NdisMUpdateOffloadComplete(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) {
    completed(PYO_UPDATE_COMPLETE, h, l);
}
VOID NdisMInvalidateOffloadComplete(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) {
    completed(PYO_INVALIDATE_COMPLETE, h, l);
}
VOID NdisMQueryOffloadStateComplete(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) {
    completed(PYO_QUERY_COMPLETE, h, l);
}
VOID NdisMOffloadEventIndicate(NDIS_HANDLE h, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l, ULONG code) {
    queue(PYO_EVENT_INDICATE, h, l, code, 0);
}

static VOID tcp_event(NDIS_HANDLE h, ULONG type, ULONG info) {
    queue(PYO_TCP_EVENT, h, NULL, type, info);
}
static NDIS_STATUS tcp_receive(NDIS_HANDLE h, PNET_BUFFER_LIST nbl, NDIS_STATUS status,
                               PULONG consumed) {
    (void)h, (void)nbl, (void)status;
    if (consumed != NULL)
        *consumed = 0;
    return NDIS_STATUS_SUCCESS;
}
static VOID tcp_send_complete(NDIS_HANDLE h, PNET_BUFFER_LIST nbl) {
    queue(PYO_SEND_COMPLETE, h, nbl, 0, 0);
}
static VOID tcp_nbl_ignored(NDIS_HANDLE h, PNET_BUFFER_LIST nbl) { (void)h, (void)nbl; }

static NDIS_TCP_OFFLOAD_EVENT_HANDLERS handlers = {
    {NDIS_OBJECT_TYPE_DEFAULT, 1, sizeof(NDIS_TCP_OFFLOAD_EVENT_HANDLERS)},
    tcp_event,
    tcp_receive,
    tcp_send_complete,
    tcp_nbl_ignored,
    tcp_nbl_ignored,
    tcp_nbl_ignored,
};

NDIS_STATUS NdisMGetOffloadHandlers(NDIS_HANDLE NdisMiniportHandle,
                                    NDIS_CHIMNEY_OFFLOAD_TYPE ChimneyType,
                                    PNDIS_TCP_OFFLOAD_EVENT_HANDLERS *OffloadHandlers) {
    (void)NdisMiniportHandle;
    if (OffloadHandlers == NULL)
        return NDIS_STATUS_FAILURE;
    if (ChimneyType != NdisTcpChimneyOffload) {
        *OffloadHandlers = NULL;
        return NDIS_STATUS_FAILURE;
    }
    *OffloadHandlers = &handlers;
    return NDIS_STATUS_SUCCESS;
}

/* -- the harness's side (called from Python) ----------------------------------------- */

const ULONG pyo_layout_tag = OFFLOAD_HARNESS_LAYOUT_TAG;

const NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS *pyo_characteristics(void) {
    return registered ? &characteristics : NULL;
}

/* Watch a tree handed to the target: its root, its memory, and where to copy it at its
 * first completion. Returns the tree's index (*serial names this registration: a
 * completion event carries it, so an index reused later is never mistaken), or -1 when
 * too many are watched. */
int pyo_register(void *root, void *base, size_t size, void *copy, uint64_t *serial) {
    pthread_mutex_lock(&lock);
    int found = -1;
    for (int i = 0; i < PYO_TREES; i++) {
        if (trees[i].root == NULL) {
            trees[i].root = root;
            trees[i].base = base;
            trees[i].size = size;
            trees[i].copy = copy;
            trees[i].completions = 0;
            trees[i].serial = ++serials;
            *serial = trees[i].serial;
            found = i;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void pyo_unregister(int tree) {
    if (tree < 0 || tree >= PYO_TREES)
        return;
    pthread_mutex_lock(&lock);
    memset(&trees[tree], 0, sizeof trees[tree]);
    pthread_mutex_unlock(&lock);
}

/* Copy a tree's memory as it is now (under the lock: no completion copies meanwhile). */
void pyo_copy_now(int tree, void *into) {
    pthread_mutex_lock(&lock);
    if (tree >= 0 && tree < PYO_TREES && trees[tree].root != NULL)
        memcpy(into, trees[tree].base, trees[tree].size);
    pthread_mutex_unlock(&lock);
}

/* Wait up to timeout_ms for the next event; 1 with *out filled, 0 on timeout. */
int pyo_wait(int timeout_ms, pyo_event *out) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lock);
    while (count == 0) {
        if (pthread_cond_timedwait(&arrived, &lock, &until) != 0)
            break;
    }
    int got = 0;
    if (count > 0) {
        *out = events[head];
        head = (head + 1) % PYO_EVENTS;
        count--;
        got = 1;
        pthread_cond_broadcast(&drained);
    }
    pthread_mutex_unlock(&lock);
    return got;
}

/* Runs of bytes where a and b differ and mask is non-zero (mask NULL: everywhere): up to
 * max (start, end) pairs into runs; returns how many runs there are in all (may exceed
 * max). */
size_t pyo_diff(const unsigned char *a, const unsigned char *b, const unsigned char *mask,
                size_t size, uint64_t *runs, size_t max) {
    size_t n = 0, i = 0;
    while (i < size) {
        if ((i & 7) == 0 && size - i >= 8) {
            /* Eight bytes at once: equal, or different only where the mask is 0 (its
               bytes are 0 or 1, so mask * 0xFF keeps the bytes that count). */
            uint64_t x, y, m = 1;
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (mask != NULL) {
                memcpy(&m, mask + i, 8);
                m *= 0xFF;
            } else {
                m = ~(uint64_t)0;
            }
            if (((x ^ y) & m) == 0) {
                i += 8;
                continue;
            }
        }
        if (a[i] == b[i] || (mask != NULL && !mask[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < size && a[i] != b[i] && (mask == NULL || mask[i]))
            i++;
        if (n < max) {
            runs[2 * n] = start;
            runs[2 * n + 1] = i;
        }
        n++;
    }
    return n;
}

/* -- packing a tree from the suite's columns, and reading it back ---------------------- */

#define PYO_BLOCK sizeof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST)
#define PYO_GUARD 16

/* Lay out n blocks (each followed by the state bytes of its state, then a guard), then
 * a PVOID cell per block with a context slot. Returns the end offset. */
uint64_t pyo_layout(size_t n, const int32_t *state_index, const uint32_t *state_len,
                    const uint8_t *slot, uint64_t *offsets, uint64_t *guards, uint64_t *slots) {
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        offsets[i] = at;
        at += PYO_BLOCK + (state_index[i] >= 0 ? state_len[state_index[i]] : 0);
        guards[i] = at;
        at += PYO_GUARD;
    }
    for (size_t i = 0; i < n; i++) {
        slots[i] = slot[i] ? at : 0;
        at += slot[i] ? 8 : 0;
    }
    return at;
}

/* Fill the blocks, their states, guards and slot cells at base, and clear in mask (set
 * to 1 by the caller) the bytes the target may write. Links are positions (-1: NULL). */
void pyo_pack(unsigned char *base, unsigned char *mask, size_t n, const uint64_t *offsets,
              const uint64_t *guards, const uint64_t *slots, const uint8_t *type,
              const int32_t *next, const int32_t *dep, const uint32_t *status,
              const uint8_t *slot, const uint64_t *slot_value, const uint64_t *handle,
              const uint32_t *port, const uint64_t *source, const uint64_t *reserved,
              const uint64_t *chain, const int32_t *state_index, const unsigned char *blob,
              const uint64_t *state_at, const uint32_t *state_len) {
    for (size_t i = 0; i < n; i++) {
        PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b = (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST)(base + offsets[i]);
        memset(b, 0, PYO_BLOCK);
        b->Header.Type = type[i];
        b->Header.Revision = 1;
        b->Header.Size = (USHORT)PYO_BLOCK;
        b->NextBlock = next[i] >= 0 ? (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST)(base + offsets[next[i]]) : NULL;
        b->DependentBlockList =
            dep[i] >= 0 ? (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST)(base + offsets[dep[i]]) : NULL;
        b->Status = (NDIS_STATUS)status[i];
        b->MiniportOffloadContext = slot[i] ? (PVOID *)(base + slots[i]) : NULL;
        b->NdisOffloadHandle = handle != NULL ? (NDIS_HANDLE)(uintptr_t)handle[i] : NULL;
        if (reserved != NULL) {
            const uint64_t *w = reserved + 8 * i;
            memcpy(b->ProtocolReserved, w, 16);
            memcpy(b->MiniportReserved, w + 2, 16);
            memcpy(b->ImReserved, w + 4, 16);
            memcpy(b->Scratch, w + 6, 16);
        }
        b->SourceHandle = source != NULL ? (PVOID)(uintptr_t)source[i] : NULL;
        b->PortNumber = port[i];
        b->NetBufferListChain = (PNET_BUFFER_LIST)(uintptr_t)chain[i];
        if (state_index[i] >= 0)
            memcpy(base + offsets[i] + PYO_BLOCK, blob + state_at[state_index[i]],
                   state_len[state_index[i]]);
        memset(base + guards[i], 0xA5, PYO_GUARD);
        unsigned char *m = mask + offsets[i];
        memset(m + offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Status), 0, sizeof(NDIS_STATUS));
        memset(m + offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, MiniportReserved), 0, 16);
        memset(m + offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Scratch), 0, 16);
        if (slot[i]) {
            memcpy(base + slots[i], &slot_value[i], 8);
            if (slot_value[i] == 0) /* a new offload: its cell is the target's to write */
                memset(mask + slots[i], 0, 8);
        }
    }
}

/* Statuses and context cells out of an image of the tree; returns 1 when some block's
 * MiniportReserved or Scratch differs from the tree as handed over. */
int pyo_read(const unsigned char *image, const unsigned char *handed, size_t n,
             const uint64_t *offsets, const uint64_t *slots, const uint8_t *slot,
             uint32_t *status, uint64_t *slot_value) {
    int words = 0;
    size_t st = offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Status);
    size_t mr = offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, MiniportReserved);
    size_t sc = offsetof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Scratch);
    for (size_t i = 0; i < n; i++) {
        memcpy(&status[i], image + offsets[i] + st, 4);
        slot_value[i] = 0;
        if (slot[i])
            memcpy(&slot_value[i], image + slots[i], 8);
        if (memcmp(image + offsets[i] + mr, handed + offsets[i] + mr, 16) != 0 ||
            memcmp(image + offsets[i] + sc, handed + offsets[i] + sc, 16) != 0)
            words = 1;
    }
    return words;
}

/* JSON text of a column of 32-bit values, e.g. [0,3221225473]; out holds 12n+3 bytes. */
size_t pyo_json_u32(const uint32_t *values, size_t n, char *out) {
    char *at = out;
    *at++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *at++ = ',';
        char digits[12];
        int k = 0;
        uint32_t v = values[i];
        do {
            digits[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (k)
            *at++ = digits[--k];
    }
    *at++ = ']';
    return (size_t)(at - out);
}

/* JSON text of a context column: "0x..." where pick[i] and the value is not NULL, null
 * elsewhere; out holds 22n+3 bytes. Returns the length (3: no context at all, "[]"-like). */
size_t pyo_json_contexts(const uint64_t *values, const uint8_t *pick, size_t n, char *out,
                         size_t *count) {
    static const char hex[] = "0123456789abcdef";
    char *at = out;
    size_t found = 0;
    *at++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *at++ = ',';
        uint64_t v = values[i];
        if (!pick[i] || v == 0) {
            memcpy(at, "null", 4);
            at += 4;
            continue;
        }
        found++;
        char digits[16];
        int k = 0;
        do {
            digits[k++] = hex[v & 0xF];
            v >>= 4;
        } while (v);
        *at++ = '"';
        *at++ = '0';
        *at++ = 'x';
        while (k)
            *at++ = digits[--k];
        *at++ = '"';
    }
    *at++ = ']';
    *count = found;
    return (size_t)(at - out);
}

/* Hex pointer strings ("0x..", one per line, "0x0" for NULL) to values. */
void pyo_parse_hex(const char *text, size_t n, uint64_t *out) {
    const char *at = text;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (at[0] == '0' && (at[1] == 'x' || at[1] == 'X'))
            at += 2;
        for (; *at && *at != '\n'; at++) {
            char c = *at;
            v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        out[i] = v;
        if (*at == '\n')
            at++;
    }
}

/* -- columns of the wire's tree, parsed from their JSON text --------------------------
   The child decodes an initiate's per-block columns as raw JSON (native/_wire.py) and
   these parse them straight into the arrays pyo_pack reads. Each returns -1, or the
   index of the first entry that is not what the protocol allows (n when the array is
   malformed or does not hold n entries), for the caller's error message. */

static const char *skip_space(const char *at, const char *end) {
    while (at < end && (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r'))
        at++;
    return at;
}

/* Past the separator after entry i: ',' (more follow) or ']' (the last). *bad is -1, or
   n when the array holds another number of entries, or i when something else follows. */
static const char *after_entry(const char *at, const char *end, size_t i, size_t n,
                               long *bad) {
    at = skip_space(at, end);
    *bad = -1;
    if (at < end && (*at == ',' || *at == ']')) {
        if ((*at == ',') != (i + 1 < n))
            *bad = (long)n;
        return at + 1;
    }
    *bad = (long)i;
    return at;
}

/* Past the '[' of an array that should hold n entries; NULL when there is nothing to
   parse, *done then the result: n when it is no array, -1 or 0 for an empty one. */
static const char *open_array(const char *text, const char *end, size_t n, long *done) {
    const char *at = skip_space(text, end);
    if (at >= end || *at++ != '[') {
        *done = (long)n;
        return NULL;
    }
    if (n == 0) {
        at = skip_space(at, end);
        *done = at < end && *at == ']' ? -1 : 0;
        return NULL;
    }
    return at;
}

static int is_null(const char *at, const char *end) {
    return end - at >= 4 && memcmp(at, "null", 4) == 0;
}

/* Entries: integers 0 <= v < limit, or null (written as -1). */
long pyo_json_positions(const char *text, size_t length, size_t n, int64_t limit,
                        int32_t *out) {
    const char *at, *end = text + length;
    long done;
    if ((at = open_array(text, end, n, &done)) == NULL)
        return done;
    for (size_t i = 0; i < n; i++) {
        at = skip_space(at, end);
        if (is_null(at, end)) {
            out[i] = -1;
            at += 4;
        } else {
            int64_t v = 0;
            const char *digits = at;
            while (at < end && *at >= '0' && *at <= '9' && at - digits < 12)
                v = v * 10 + (*at++ - '0');
            if (at == digits || v >= limit || (at - digits > 1 && *digits == '0'))
                return (long)i;
            out[i] = (int32_t)v;
        }
        long bad;
        at = after_entry(at, end, i, n, &bad);
        if (bad >= 0)
            return bad;
    }
    return skip_space(at, end) == end ? -1 : (long)n;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Entries: "0x" and 1 to 16 hex digits, or null (0; present[i] says which, if given). */
long pyo_json_pointers(const char *text, size_t length, size_t n, uint64_t *out,
                       unsigned char *present) {
    const char *at, *end = text + length;
    long done;
    if ((at = open_array(text, end, n, &done)) == NULL)
        return done;
    for (size_t i = 0; i < n; i++) {
        at = skip_space(at, end);
        if (is_null(at, end)) {
            out[i] = 0;
            if (present)
                present[i] = 0;
            at += 4;
        } else {
            if (end - at < 4 || at[0] != '"' || at[1] != '0' || (at[2] | 0x20) != 'x')
                return (long)i;
            at += 3;
            uint64_t v = 0;
            int digits = 0, d;
            while (at < end && (d = hex_digit(*at)) >= 0 && digits < 17)
                v = v << 4 | (uint64_t)d, at++, digits++;
            if (digits < 1 || digits > 16 || at >= end || *at++ != '"')
                return (long)i;
            out[i] = v;
            if (present)
                present[i] = 1;
        }
        long bad;
        at = after_entry(at, end, i, n, &bad);
        if (bad >= 0)
            return bad;
    }
    return skip_space(at, end) == end ? -1 : (long)n;
}

/* -- a crash in the target: say where, in C, then die of the same signal ------------- */

static void say(const char *text) {
    ssize_t ignored = write(2, text, strlen(text));
    (void)ignored;
}

static void crashed(int sig) {
    void *frames[32];
    say("offload native harness: the target ");
    say(sig == SIGSEGV ? "segfaulted (SIGSEGV)" : sig == SIGBUS ? "hit SIGBUS"
        : sig == SIGABRT ? "aborted (SIGABRT)" : sig == SIGFPE ? "hit SIGFPE" : "hit SIGILL");
    say("; C stack (addr2line -e LIBRARY +OFFSET names a line):\n");
    int n = backtrace(frames, 32);
    /* The target's frames: from the one that faulted (after this handler and the signal
     * trampoline) down to the harness's call of the handler; Python's below are noise. */
    char **names = backtrace_symbols(frames, n);
    int shown = 0;
    for (int i = 2; names != NULL && i < n && shown < 12; i++) {
        if (strstr(names[i], "libffi") != NULL || strstr(names[i], "libpython") != NULL)
            break;
        say("    ");
        say(names[i]);
        say("\n");
        shown++;
        if (strstr(names[i], "pyo_request") != NULL)
            break;
    }
    if (names == NULL)
        backtrace_symbols_fd(frames, n < 12 ? n : 12, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Print the C stack of a crash on stderr (the suite quotes its tail in the finding). */
void pyo_on_crash(void) {
    static char stack[1 << 16];
    stack_t alternate = {0};
    alternate.ss_sp = stack;
    alternate.ss_size = sizeof stack;
    sigaltstack(&alternate, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = crashed;
    action.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &action, NULL);
}

/* Call the handler registered for operation (0 initiate, 1 terminate, 2 update,
 * 3 invalidate, 4 query: the order of the characteristics) on the caller's thread;
 * 0 when none is registered. */
int pyo_request(int operation, NDIS_HANDLE adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST root) {
    W_INITIATE_OFFLOAD_HANDLER handler = NULL; /* the five typedefs have one signature */
    if (registered) {
        switch (operation) {
        case 0: handler = characteristics.InitiateOffloadHandler; break;
        case 1: handler = characteristics.TerminateOffloadHandler; break;
        case 2: handler = characteristics.UpdateOffloadHandler; break;
        case 3: handler = characteristics.InvalidateOffloadHandler; break;
        case 4: handler = characteristics.QueryOffloadHandler; break;
        default: break;
        }
    }
    if (handler == NULL)
        return 0;
    handler(adapter, root);
    return 1;
}

/* Call the registered initiate handler (on the caller's thread). */
int pyo_initiate(NDIS_HANDLE adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST root) {
    return pyo_request(0, adapter, root);
}
