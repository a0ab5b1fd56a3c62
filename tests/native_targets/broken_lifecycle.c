/*
 * broken_lifecycle.c - the C example target (examples/c_target/offload_target.c, with
 * its lifecycle) broken one way per build in terminate or query, each way a defect the
 * suite must catch, over the native transport, with its rule ID.
 *
 *   cc ... -DBREAK=BREAK_UNSETTLED broken_lifecycle.c -o libbroken.so
 *
 * The example is included unchanged; its completions of terminate and query are routed
 * through this file first (macros), and its handlers wrapped, so a defect is injected
 * around the correct walk.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <offload_harness.h>

#define BREAK_NONE 0
#define BREAK_UNFILLED 1          /* LIFE-STATE-WRITTEN: CWnd left as handed over */
#define BREAK_TERMINATE_TWICE 2   /* LIFE-COMPLETE-ONCE: a second completion, from a thread */
#define BREAK_LATE_WRITE 3        /* LIFE-HOST-FIELDS-INTACT: a status written after completing */
#define BREAK_UNSETTLED 4         /* LIFE-DELEGATED-SETTLED: RcvNxt advanced */
#define BREAK_QUERY_PORT 5        /* QRY-CONST-CACHED: RemotePort not as offloaded */
#define BREAK_EVENT_AFTER 6       /* TRM-NO-EVENT-AFTER: an event after the terminate completed */
#define BREAK_SENDS_SUCCESS 7     /* TRM-SEND-DATA-ONCE: send data completed with SUCCESS */
#define BREAK_CAPACITY_KEPT 8     /* LIFE-CAPACITY-FREED: terminated connections still counted */
#define BREAK_SEGFAULT 9          /* LIFE-NO-RAISE: SIGSEGV in terminate */
#define BREAK_PORT_NUMBER 10      /* LIFE-HOST-FIELDS-INTACT: a host-owned field of a request */
#define BREAK_WRONG_COMPLETION 11 /* LIFE-COMPLETE-ONCE: a query completed as an update */
#define BREAK_GARBAGE_ENDS 12     /* TRM-SEND-DATA-ONCE: SendDataHead/Tail set, nothing chained */
/* Not defects: conformant ways the suite once judged wrongly (each must pass). */
#define VARIANT_EVENT_BURST 13    /* 10,000 events inside a query, before completing it */
#define VARIANT_UPLOAD_STATUS 14  /* chained NBLs given UPLOAD_IN_PROGRESS before completing */
#define VARIANT_PARTIAL_UPLOAD 15 /* the first NBL send-completed, the rest chained */

#ifndef BREAK
#define BREAK BREAK_NONE
#endif

static VOID RouteTerminateComplete(NDIS_HANDLE, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST);
static VOID RouteQueryComplete(NDIS_HANDLE, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST);
static NDIS_STATUS RouteHandlers(NDIS_HANDLE, PNDIS_DRIVER_OPTIONAL_HANDLERS);

#define NdisSetOptionalHandlers RouteHandlers
#define NdisMTerminateOffloadComplete RouteTerminateComplete
#define NdisMQueryOffloadStateComplete RouteQueryComplete
#include "../../examples/c_target/offload_target.c"
#undef NdisSetOptionalHandlers
#undef NdisMTerminateOffloadComplete
#undef NdisMQueryOffloadStateComplete

static W_TERMINATE_OFFLOAD_HANDLER CorrectTerminate;
#include "broken_common.h"

/* A named TCP block of a terminate and the delegated structure after it. */
static PTCP_OFFLOAD_STATE_DELEGATED Delegated(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (b->MiniportOffloadContext == NULL || b->Header.Type != TcpOffloadDelegatedState)
        return NULL;
    return (PTCP_OFFLOAD_STATE_DELEGATED)(b + 1);
}

static VOID KeepPoison(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    if (d != NULL) /* MiniportReserved is the target's: it holds CWnd as handed over */
        memcpy(&b->MiniportReserved[0], &d->CWnd, sizeof d->CWnd);
}
static VOID RestorePoison(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    if (d != NULL && b->Status == NDIS_STATUS_SUCCESS)
        memcpy(&d->CWnd, &b->MiniportReserved[0], sizeof d->CWnd);
}
static VOID Advance(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    if (d != NULL && b->Status == NDIS_STATUS_SUCCESS)
        d->RcvNxt += 1;
}
static VOID ChangePort(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) { b->PortNumber += 1; }

static PNDIS_TCP_OFFLOAD_EVENT_HANDLERS Handlers;
static NDIS_HANDLE Miniport;

static VOID SendsSucceed(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    if (d == NULL || b->Status != NDIS_STATUS_SUCCESS || b->NetBufferListChain == NULL)
        return;
    PNET_BUFFER_LIST chain = b->NetBufferListChain;
    for (PNET_BUFFER_LIST n = chain; n != NULL; n = NET_BUFFER_LIST_NEXT_NBL(n))
        NET_BUFFER_LIST_STATUS(n) = NDIS_STATUS_SUCCESS; /* "acknowledged": no peer said so */
    b->NetBufferListChain = NULL;
    d->SendDataHead = d->SendDataTail = NULL;
    Handlers->NdisTcpOffloadSendComplete(Miniport, chain);
}

#define MAX_HANDLES 1024
static NDIS_HANDLE Terminated[MAX_HANDLES];
static ULONG TerminatedCount;
static VOID NoteTerminated(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (Delegated(b) != NULL && b->Status == NDIS_STATUS_SUCCESS && TerminatedCount < MAX_HANDLES)
        Terminated[TerminatedCount++] = b->NdisOffloadHandle;
}

typedef struct {
    NDIS_HANDLE Handle;
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root;
} AGAIN;

static void *CompleteAgain(void *Argument) {
    AGAIN *again = Argument;
    NdisMTerminateOffloadComplete(again->Handle, again->Root);
    free(again);
    return NULL;
}

static VOID GarbageEnds(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    if (d != NULL && b->Status == NDIS_STATUS_SUCCESS && b->NetBufferListChain == NULL)
        d->SendDataHead = d->SendDataTail = (PNET_BUFFER_LIST)(uintptr_t)0x1234;
}
static VOID UploadStatus(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (Delegated(b) != NULL)
        for (PNET_BUFFER_LIST n = b->NetBufferListChain; n != NULL; n = NET_BUFFER_LIST_NEXT_NBL(n))
            NET_BUFFER_LIST_STATUS(n) = NDIS_STATUS_UPLOAD_IN_PROGRESS;
}
static VOID PartialUpload(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    PTCP_OFFLOAD_STATE_DELEGATED d = Delegated(b);
    PNET_BUFFER_LIST first = b->NetBufferListChain;
    if (d == NULL || b->Status != NDIS_STATUS_SUCCESS || first == NULL)
        return;
    b->NetBufferListChain = NET_BUFFER_LIST_NEXT_NBL(first); /* the rest, still in order */
    d->SendDataHead = b->NetBufferListChain;
    if (d->SendDataHead == NULL)
        d->SendDataTail = NULL;
    NET_BUFFER_LIST_NEXT_NBL(first) = NULL;
    NET_BUFFER_LIST_STATUS(first) = NDIS_STATUS_UPLOAD_IN_PROGRESS;
    Handlers->NdisTcpOffloadSendComplete(Miniport, first);
}

static VOID RouteTerminateComplete(NDIS_HANDLE Handle, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    if (BREAK == BREAK_GARBAGE_ENDS)
        Visit(Root, GarbageEnds);
    if (BREAK == VARIANT_UPLOAD_STATUS)
        Visit(Root, UploadStatus);
    if (BREAK == VARIANT_PARTIAL_UPLOAD)
        Visit(Root, PartialUpload);
    if (BREAK == BREAK_UNFILLED)
        Visit(Root, RestorePoison);
    if (BREAK == BREAK_UNSETTLED)
        Visit(Root, Advance);
    if (BREAK == BREAK_PORT_NUMBER)
        Visit(Root, ChangePort);
    if (BREAK == BREAK_SENDS_SUCCESS)
        Visit(Root, SendsSucceed);
    TerminatedCount = 0;
    if (BREAK == BREAK_EVENT_AFTER)
        Visit(Root, NoteTerminated);
    NdisMTerminateOffloadComplete(Handle, Root);
    if (BREAK == BREAK_EVENT_AFTER)
        for (ULONG i = 0; i < TerminatedCount; i++)
            Handlers->NdisTcpOffloadEventHandler(Terminated[i], TcpIndicateRetrieve, LowActivity);
    if (BREAK == BREAK_TERMINATE_TWICE) {
        AGAIN *again = malloc(sizeof *again);
        if (again != NULL) {
            again->Handle = Handle;
            again->Root = Root;
            Spawn(CompleteAgain, again);
        }
    } else if (BREAK == BREAK_LATE_WRITE) {
        Root->Status = NDIS_STATUS_FAILURE; /* changed its mind, right after completing */
    }
}

static VOID QueryPort(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (b->MiniportOffloadContext == NULL || b->Status != NDIS_STATUS_SUCCESS)
        return;
    if (b->Header.Type == TcpOffloadConstState || b->Header.Type == TcpOffloadState)
        ((PTCP_OFFLOAD_STATE_CONST)(b + 1))->RemotePort ^= 1;
}

static VOID Burst(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (b->MiniportOffloadContext == NULL || b->Status != NDIS_STATUS_SUCCESS || b->Header.Type < 13)
        return;
    PNDIS_TCP_OFFLOAD_EVENT_HANDLERS handlers = NULL;
    if (NdisMGetOffloadHandlers(NULL, NdisTcpChimneyOffload, &handlers) != NDIS_STATUS_SUCCESS)
        return;
    for (int i = 0; i < 10000; i++) /* more than the harness's queue holds at once */
        handlers->NdisTcpOffloadEventHandler(b->NdisOffloadHandle, TcpIndicateSendBacklogChange, 0);
}

static VOID RouteQueryComplete(NDIS_HANDLE Handle, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    if (BREAK == VARIANT_EVENT_BURST)
        Visit(Root, Burst);
    if (BREAK == BREAK_QUERY_PORT)
        Visit(Root, QueryPort);
    if (BREAK == BREAK_WRONG_COMPLETION) {
        NdisMUpdateOffloadComplete(Handle, Root);
        return;
    }
    NdisMQueryOffloadStateComplete(Handle, Root);
}

static ULONG TcpBlocks;
static VOID CountTcp(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b) {
    if (Delegated(b) != NULL && b->Status == NDIS_STATUS_SUCCESS)
        TcpBlocks++;
}

static VOID BrokenTerminate(NDIS_HANDLE Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    PADAPTER adapter = Adapter;
    Miniport = adapter->MiniportHandle;
    Handlers = adapter->Handlers;
    if (BREAK == BREAK_UNFILLED)
        Visit(Root, KeepPoison);
    if (BREAK == BREAK_SEGFAULT && Root->DependentBlockList != NULL)
        *Nowhere = 0; /* a NULL pointer, dereferenced */
    CorrectTerminate(Adapter, Root); /* completes inline */
    if (BREAK == BREAK_CAPACITY_KEPT) {
        TcpBlocks = 0;
        Visit(Root, CountTcp);
        pthread_mutex_lock(&adapter->Lock);
        adapter->TcpCount += TcpBlocks; /* never given back */
        pthread_mutex_unlock(&adapter->Lock);
    }
}

static NDIS_STATUS RouteHandlers(NDIS_HANDLE Handle, PNDIS_DRIVER_OPTIONAL_HANDLERS Table) {
    PNDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS chars =
        (PNDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS)Table;
    CorrectTerminate = chars->TerminateOffloadHandler;
    chars->TerminateOffloadHandler = BrokenTerminate;
    return NdisSetOptionalHandlers(Handle, Table);
}
