/*
 * broken_target.c - the C example target (examples/c_target/offload_target.c) broken one
 * way per build, each way a defect the suite must catch with its rule ID.
 *
 *   cc ... -DBREAK=BREAK_PARTIAL_ON_LEAF broken_target.c -o libbroken.so
 *
 * The example is included unchanged; its calls to NdisSetOptionalHandlers and
 * NdisMInitiateOffloadComplete are routed through this file first (macros), so a defect
 * is injected around the correct walk: before the completion (a wrong write), at it (a
 * second completion) or after it (a late write).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <offload_harness.h>

#define BREAK_NONE 0
#define BREAK_PARTIAL_ON_LEAF 1   /* INI-PARTIAL-NEEDS-FAILED-DEPENDENT */
#define BREAK_WRITE_PAST_END 2    /* INI-HOST-FIELDS-INTACT: the guard after a block */
#define BREAK_SEGFAULT_ON_IPV6 3  /* INI-NO-RAISE: SIGSEGV */
#define BREAK_SECOND_COMPLETION 4 /* INI-COMPLETE-ONCE: again, from a vendor thread */
#define BREAK_NULL_CONTEXT 5      /* INI-CONTEXT-ON-SUCCESS */
#define BREAK_REUSED_CONTEXT 6    /* INI-CONTEXT-UNIQUE: one context for every object */
#define BREAK_ABORT 7             /* INI-NO-RAISE: SIGABRT */
#define BREAK_HANG 8              /* INI-COMPLETE-ONCE: never completes */
#define BREAK_LATE_WRITE 9        /* INI-NO-TOUCH-AFTER-COMPLETE */
#define BREAK_PORT_NUMBER 10      /* INI-HOST-FIELDS-INTACT: a host-owned field */
#define BREAK_STATE_WRITE 11      /* INI-HOST-FIELDS-INTACT: the delegated state */
#define BREAK_STDOUT 12           /* none: printf on stdout must not break the protocol */
#define BREAK_COMPLETE_NON_ROOT 13 /* INI-COMPLETE-ROOT: completes with the root's dependent */
#define BREAK_COMPLETE_STRAY 14   /* INI-COMPLETE-ROOT: completes with a block of its own */
#define BREAK_LATE_NBL_STATUS 15  /* INI-SEND-DATA-KEPT-ON-FAILURE, after the completion */
#define BREAK_NO_TERMINATE 16     /* a usage error: lifecycle handlers without terminate */

#ifndef LATE_MS
#define LATE_MS 2 /* BREAK_LATE_WRITE's delay after the completion */
#endif

#ifndef BREAK
#define BREAK BREAK_NONE
#endif

static NDIS_STATUS RouteHandlers(NDIS_HANDLE, PNDIS_DRIVER_OPTIONAL_HANDLERS);
static VOID RouteComplete(NDIS_HANDLE, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST);

#define NdisSetOptionalHandlers RouteHandlers
#define NdisMInitiateOffloadComplete RouteComplete
#include "../../examples/c_target/offload_target.c"
#undef NdisSetOptionalHandlers
#undef NdisMInitiateOffloadComplete

static W_INITIATE_OFFLOAD_HANDLER Correct;
static int Reused; /* the one context of BREAK_REUSED_CONTEXT */
#include "broken_common.h"

static int IsNewOffload(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    return b->MiniportOffloadContext != NULL;
}

static VOID PartialOnLeaf(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (b->DependentBlockList == NULL && IsNewOffload(b) && b->Status == NDIS_STATUS_SUCCESS)
        b->Status = NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS;
}
static VOID NullContext(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (IsNewOffload(b) && b->Status == NDIS_STATUS_SUCCESS && b->Header.Type == TcpOffloadState)
        *b->MiniportOffloadContext = NULL;
}
static VOID ReuseContext(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (IsNewOffload(b) && b->Status == NDIS_STATUS_SUCCESS && b->Header.Type == TcpOffloadState)
        *b->MiniportOffloadContext = &Reused;
}
static VOID ChangePort(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) { b->PortNumber += 1; }
static VOID FailedSendStatus(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (b->Header.Type == TcpOffloadState && b->Status != NDIS_STATUS_SUCCESS)
        for (PNET_BUFFER_LIST n = b->NetBufferListChain; n != NULL; n = NET_BUFFER_LIST_NEXT_NBL(n))
            NET_BUFFER_LIST_STATUS(n) = NDIS_STATUS_FAILURE; /* not the target's: it failed */
}
static NDIS_MINIPORT_OFFLOAD_BLOCK_LIST Stray;

static VOID PastEnd(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    /* The first byte after the root's last state structure (a new neighbor offload:
     * CONST, CACHED, DELEGATED), as an off-by-one copy would write it. */
    PUCHAR parts[3];
    if (Root->Header.Type != NeighborOffloadState || !GetState(Root, LayerNeighbor, parts))
        return;
    parts[2][((POFFLOAD_STATE_HEADER)parts[2])->Length] = 0;
}

static VOID StateWrite(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PUCHAR parts[3];
    if (b->Header.Type == TcpOffloadState && IsNewOffload(b) && GetState(b, LayerTcp, parts))
        ((PTCP_OFFLOAD_STATE_DELEGATED)parts[2])->SndNxt += 1; /* "advanced" in place */
}

static int HasIpv6(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block) {
    for (; Block != NULL; Block = Block->NextBlock)
        if (Block->Header.Type == Ip6OffloadState || HasIpv6(Block->DependentBlockList))
            return 1;
    return 0;
}

typedef struct {
    NDIS_HANDLE Handle;
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root;
} AGAIN;

static void *CompleteAgain(void *Argument) {
    AGAIN *again = Argument;
    NdisMInitiateOffloadComplete(again->Handle, again->Root);
    free(again);
    return NULL;
}

static void *WriteLate(void *Argument) {
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST root = Argument;
    struct timespec pause = {LATE_MS / 1000, (LATE_MS % 1000) * 1000L * 1000L};
    nanosleep(&pause, NULL);
    root->Status = NDIS_STATUS_FAILURE; /* changed its mind, after completing */
    return NULL;
}

static VOID RouteComplete(NDIS_HANDLE Handle, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    switch (BREAK) {
    case BREAK_PARTIAL_ON_LEAF:
        Visit(Root, PartialOnLeaf);
        break;
    case BREAK_WRITE_PAST_END:
        PastEnd(Root);
        break;
    case BREAK_NULL_CONTEXT:
        Visit(Root, NullContext);
        break;
    case BREAK_REUSED_CONTEXT:
        Visit(Root, ReuseContext);
        break;
    case BREAK_PORT_NUMBER:
        Visit(Root, ChangePort);
        break;
    case BREAK_STATE_WRITE:
        Visit(Root, StateWrite);
        break;
    case BREAK_HANG:
        return; /* never completes */
    default:
        break;
    }
    if (BREAK == BREAK_COMPLETE_NON_ROOT && Root->DependentBlockList != NULL) {
        NdisMInitiateOffloadComplete(Handle, Root->DependentBlockList);
        return;
    }
    if (BREAK == BREAK_COMPLETE_STRAY) {
        NdisMInitiateOffloadComplete(Handle, &Stray);
        return;
    }
    NdisMInitiateOffloadComplete(Handle, Root);
    if (BREAK == BREAK_LATE_NBL_STATUS)
        Visit(Root, FailedSendStatus);
    if (BREAK == BREAK_SECOND_COMPLETION) {
        AGAIN *again = malloc(sizeof *again);
        if (again != NULL) {
            again->Handle = Handle;
            again->Root = Root;
            Spawn(CompleteAgain, again);
        }
    } else if (BREAK == BREAK_LATE_WRITE) {
        Spawn(WriteLate, Root);
    }
}

static VOID BrokenInitiate(NDIS_HANDLE Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    if (BREAK == BREAK_SEGFAULT_ON_IPV6 && HasIpv6(Root))
        *Nowhere = 0; /* a NULL pointer, dereferenced */
    if (BREAK == BREAK_ABORT && Root->DependentBlockList != NULL)
        abort();
    if (BREAK == BREAK_STDOUT) {
        printf("debug: initiate %p\n", (void *)Root);
        fflush(stdout);
    }
    Correct(Adapter, Root);
}

static NDIS_STATUS RouteHandlers(NDIS_HANDLE Handle, PNDIS_DRIVER_OPTIONAL_HANDLERS Table) {
    PNDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS chars =
        (PNDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS)Table;
    Correct = chars->InitiateOffloadHandler;
    chars->InitiateOffloadHandler = BrokenInitiate;
    if (BREAK == BREAK_NO_TERMINATE)
        chars->TerminateOffloadHandler = NULL;
    return NdisSetOptionalHandlers(Handle, Table);
}
