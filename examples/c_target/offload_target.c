/*
 * offload_target.c - a TCP chimney offload target in C, as a vendor's driver has one,
 * built in user mode against pytest-offload's <ndischimney.h> and certified by the suite.
 *
 *   cc -std=c11 -O2 -fPIC -shared -mms-bitfields -I"$(pytest-offload include-dir)" \
 *      offload_target.c -o liboffload_target.so -lpthread
 *   pytest --offload-target=native:./liboffload_target.so
 *
 * The initiate path follows the NDIS text the suite checks (docs/rules.md): a
 * depth-first, breadth-next walk of the state tree; placeholders SUCCESS; the dependents
 * of a failed block FAILURE without being attempted; OFFLOAD_PARTIAL_SUCCESS when some
 * immediate dependent failed; one cause code per limit; a context per offloaded object
 * (the object's address); linkers checked against the adapter's own objects, never
 * dereferenced blindly; send data of offloaded connections completed after the initiate
 * completed, send data of failed ones left alone.
 *
 * The lifecycle (offload_lifecycle.c, part of this translation unit) follows the NDIS
 * text of lifecycle.md: terminate hands back the delegated state as offloaded, the send
 * data chained in order and the buffered data, frees capacity and retires the context;
 * update replaces cached variables and relinks paths to the neighbor above them;
 * invalidate marks objects; query fills the structure of the block's type with current
 * values. A request naming nothing this adapter holds, or a terminate leaving live
 * dependents behind, fails on that block alone.
 *
 * Built with -DOFFLOAD_COMPLETE_ON_WORKER it completes each initiate and request from a
 * thread of its own instead of inside the handler (NDIS allows both). Built with
 * -DOFFLOAD_INITIATE_ONLY it is a v1 target: it registers InitiateOffloadHandler alone
 * and hands send data back once the initiate completed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ndischimney.h>
#include <offload_harness.h>

#define TCP_CAPACITY 8
#define MAX_INITIAL_RCV_WND 262144
#define MAX_PATH_MTU 9000
#define VLAN_CAPACITY 64
#define OBJECT_MAGIC 0x4F46464Cu /* "OFFL" */

typedef enum { LayerNeighbor, LayerPath, LayerTcp } LAYER;

typedef struct _OFFLOADED_OBJECT {
    ULONG Magic;
    LAYER Layer;
    struct _OFFLOADED_OBJECT *Parent;
    NDIS_HANDLE NdisOffloadHandle;
    struct _OFFLOADED_OBJECT *Next; /* the adapter's list */
    /* The state as offloaded (the cached part as last updated), for terminate and query. */
    UCHAR Const[0x30];
    UCHAR Cached[0x30];
    UCHAR Delegated[0x80];
    UCHAR SourceAddress[16];      /* a path's: PATH_OFFLOAD_STATE_CONST points here */
    UCHAR DestinationAddress[16];
    USHORT Vlan;                  /* a neighbor's VLAN ID (0: none) */
    BOOLEAN Invalidated;
    BOOLEAN Named;                /* named by the request being served */
    PNET_BUFFER_LIST Sends;       /* a connection's send data, kept until its terminate */
    PNET_BUFFER_LIST Buffered;    /* the buffered data it was offloaded with */
} OFFLOADED_OBJECT, *POFFLOADED_OBJECT;

typedef struct _ADAPTER {
    NDIS_HANDLE MiniportHandle;
    PNDIS_TCP_OFFLOAD_EVENT_HANDLERS Handlers;
    pthread_mutex_t Lock;
    POFFLOADED_OBJECT Objects;
    ULONG TcpCount;
    ULONG VlanCount;
    USHORT Vlans[VLAN_CAPACITY];
} ADAPTER, *PADAPTER;

/* Offloaded TCP blocks whose send data goes back once the initiate completed. */
#define MAX_SENDS 256
typedef struct _WALK {
    PADAPTER Adapter;
    PNET_BUFFER_LIST Sends[MAX_SENDS];
    ULONG SendCount;
} WALK, *PWALK;

static NDIS_HANDLE DriverHandle;

/* -- the state after a block: CONST, CACHED, DELEGATED, each stepped over by Length ---- */

static const ULONG StateLength[3][3] = {
    /* the Length NDIS gives each structure (sizeof rounded up to 8: docs/native.md) */
    {0x30, 0x30, 0x10}, /* neighbor */
    {0x18, 0x10, 0x08}, /* path */
    {0x18, 0x30, 0x80}, /* TCP */
};

/* The three state structures of a new offload, or FALSE when what follows the block is
 * not the state of its layer (a new offload handed over without its state). */
static BOOLEAN GetState(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, LAYER Layer, PUCHAR Parts[3]) {
    PUCHAR at = (PUCHAR)(Block + 1);
    for (int i = 0; i < 3; i++) {
        POFFLOAD_STATE_HEADER header = (POFFLOAD_STATE_HEADER)at;
        if (header->Length != StateLength[Layer][i])
            return 0;
        Parts[i] = at;
        at += header->Length;
    }
    return 1;
}

/* -- the adapter's objects ---------------------------------------------------------- */

static POFFLOADED_OBJECT Lookup(PADAPTER Adapter, PVOID Context, LAYER Layer) {
    for (POFFLOADED_OBJECT o = Adapter->Objects; o != NULL; o = o->Next)
        if ((PVOID)o == Context) /* compared, never dereferenced, until found */
            return o->Magic == OBJECT_MAGIC && o->Layer == Layer ? o : NULL;
    return NULL;
}

static VOID SaveState(POFFLOADED_OBJECT Object, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block,
                      PUCHAR Parts[3]) {
    LAYER layer = Object->Layer;
    memcpy(Object->Const, Parts[0], StateLength[layer][0]);
    memcpy(Object->Cached, Parts[1], StateLength[layer][1]);
    memcpy(Object->Delegated, Parts[2], StateLength[layer][2]);
    if (layer == LayerNeighbor) {
        Object->Vlan = (USHORT)((PNEIGHBOR_OFFLOAD_STATE_CONST)Parts[0])->VlanId;
    } else if (layer == LayerPath) {
        PPATH_OFFLOAD_STATE_CONST c = (PPATH_OFFLOAD_STATE_CONST)Parts[0];
        size_t size = Block->Header.Type == Ip6OffloadState ? 16 : 4;
        memcpy(Object->SourceAddress, c->SourceAddress, size);
        memcpy(Object->DestinationAddress, c->DestinationAddress, size);
    } else {
        Object->Buffered = ((PTCP_OFFLOAD_STATE_DELEGATED)Parts[2])->BufferedData;
    }
}

static POFFLOADED_OBJECT NewObject(PADAPTER Adapter, LAYER Layer, POFFLOADED_OBJECT Parent,
                                   NDIS_HANDLE Handle) {
    POFFLOADED_OBJECT o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->Magic = OBJECT_MAGIC;
    o->Layer = Layer;
    o->Parent = Parent;
    o->NdisOffloadHandle = Handle;
    o->Next = Adapter->Objects;
    Adapter->Objects = o;
    return o;
}

/* -- admission: one cause code per limit --------------------------------------------- */

static NDIS_STATUS AdmitNeighbor(PADAPTER Adapter, PUCHAR Parts[3]) {
    PNEIGHBOR_OFFLOAD_STATE_CONST c = (PNEIGHBOR_OFFLOAD_STATE_CONST)Parts[0];
    for (size_t i = 0; i < sizeof c->DlSourceAddress; i++)
        if (c->DlSourceAddress[i] != 0)
            return NDIS_STATUS_OFFLOAD_HW_ADDRESS_ENTRIES; /* no configurable source MAC */
    USHORT vlan = (USHORT)c->VlanId;
    if (vlan != 0) {
        ULONG i;
        for (i = 0; i < Adapter->VlanCount; i++)
            if (Adapter->Vlans[i] == vlan)
                break;
        if (i == Adapter->VlanCount) {
            if (Adapter->VlanCount >= VLAN_CAPACITY)
                return NDIS_STATUS_OFFLOAD_VLAN_ENTRIES;
            Adapter->Vlans[Adapter->VlanCount++] = vlan;
        }
    }
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS AdmitPath(PADAPTER Adapter, PUCHAR Parts[3]) {
    (void)Adapter;
    PPATH_OFFLOAD_STATE_CACHED cached = (PPATH_OFFLOAD_STATE_CACHED)Parts[1];
    if (cached->PathMtu > MAX_PATH_MTU)
        return NDIS_STATUS_OFFLOAD_PATH_MTU;
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS AdmitTcp(PADAPTER Adapter, PUCHAR Parts[3]) {
    PTCP_OFFLOAD_STATE_CACHED cached = (PTCP_OFFLOAD_STATE_CACHED)Parts[1];
    PTCP_OFFLOAD_STATE_DELEGATED delegated = (PTCP_OFFLOAD_STATE_DELEGATED)Parts[2];
    if (cached->InitialRcvWnd > MAX_INITIAL_RCV_WND)
        return NDIS_STATUS_OFFLOAD_TCP_RCV_WINDOW;
    switch (delegated->State) {
    case TcpConnectionClosed:
    case TcpConnectionListen:
    case TcpConnectionSynSent:
    case TcpConnectionSynRcvd:
    case TcpConnectionTimeWait:
        return NDIS_STATUS_FAILURE; /* states the host never offloads */
    default:
        break;
    }
    if (Adapter->TcpCount >= TCP_CAPACITY)
        return NDIS_STATUS_OFFLOAD_TCP_ENTRIES;
    Adapter->TcpCount++;
    return NDIS_STATUS_SUCCESS;
}

/* -- the walk ------------------------------------------------------------------------ */

static VOID WalkChain(PWALK Walk, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST First, int Depth,
                      POFFLOADED_OBJECT Parent, BOOLEAN ParentIsPlaceholder);

/* Blocks not attempted because an ancestor failed: FAILURE (placeholders SUCCESS). */
static VOID FailBelow(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block) {
    for (; Block != NULL; Block = Block->NextBlock) {
        Block->Status =
            Block->MiniportOffloadContext == NULL ? NDIS_STATUS_SUCCESS : NDIS_STATUS_FAILURE;
        FailBelow(Block->DependentBlockList);
    }
}

static VOID Fail(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, NDIS_STATUS Status) {
    Block->Status = Status;
    FailBelow(Block->DependentBlockList);
}

/* SUCCESS when every immediate dependent is offloaded; else PARTIAL, or FAILURE for a
 * linker none of whose dependents was offloaded. */
static NDIS_STATUS FromDependents(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, BOOLEAN Offloaded) {
    ULONG all = 0, done = 0;
    for (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST c = Block->DependentBlockList; c; c = c->NextBlock) {
        all++;
        if (c->Status == NDIS_STATUS_SUCCESS || c->Status == NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS)
            done++;
    }
    if (done == all)
        return NDIS_STATUS_SUCCESS;
    return Offloaded || done ? NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS : NDIS_STATUS_FAILURE;
}

static BOOLEAN TypeFits(UCHAR Type, int Depth) {
    switch (Depth) {
    case LayerNeighbor:
        return Type == NeighborOffloadState;
    case LayerPath:
        return Type == Ip4OffloadState || Type == Ip6OffloadState;
    case LayerTcp:
        return Type == TcpOffloadState;
    default:
        return 0;
    }
}

static VOID Process(PWALK Walk, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, int Depth,
                    POFFLOADED_OBJECT Parent, BOOLEAN ParentIsPlaceholder) {
    PADAPTER adapter = Walk->Adapter;
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST below = Block->DependentBlockList;
    if (Block->MiniportOffloadContext == NULL) { /* a placeholder */
        Block->Status = NDIS_STATUS_SUCCESS;
        WalkChain(Walk, below, Depth + 1, NULL, 1);
        return;
    }
    if (Depth > LayerTcp || (Depth == LayerTcp && below != NULL) ||
        !TypeFits(Block->Header.Type, Depth)) {
        Fail(Block, NDIS_STATUS_FAILURE); /* a malformed tree */
        return;
    }
    PVOID context = *Block->MiniportOffloadContext;
    if (context != NULL) { /* a linker */
        POFFLOADED_OBJECT object = Lookup(adapter, context, (LAYER)Depth);
        if (object == NULL) {
            Fail(Block, NDIS_STATUS_FAILURE); /* names nothing this adapter holds */
            return;
        }
        WalkChain(Walk, below, Depth + 1, object, 0);
        Block->Status = FromDependents(Block, 0);
        return;
    }
    PUCHAR parts[3];
    if (!GetState(Block, (LAYER)Depth, parts) || (Depth > 0 && ParentIsPlaceholder)) {
        Fail(Block, NDIS_STATUS_FAILURE); /* no state of its layer, or no parent */
        return;
    }
    NDIS_STATUS status = Depth == LayerNeighbor ? AdmitNeighbor(adapter, parts)
                         : Depth == LayerPath   ? AdmitPath(adapter, parts)
                                                : AdmitTcp(adapter, parts);
    POFFLOADED_OBJECT object = NULL;
    if (status == NDIS_STATUS_SUCCESS) {
        object = NewObject(adapter, (LAYER)Depth, Parent, Block->NdisOffloadHandle);
        if (object == NULL)
            status = NDIS_STATUS_RESOURCES;
    }
    if (status != NDIS_STATUS_SUCCESS) {
        Fail(Block, status);
        return;
    }
    SaveState(object, Block, parts);
    *Block->MiniportOffloadContext = object;
#ifdef OFFLOAD_INITIATE_ONLY
    if (Depth == LayerTcp && Block->NetBufferListChain != NULL && Walk->SendCount < MAX_SENDS)
        Walk->Sends[Walk->SendCount++] = Block->NetBufferListChain;
#else
    if (Depth == LayerTcp)
        object->Sends = Block->NetBufferListChain; /* ours until the terminate */
#endif
    if (below == NULL) {
        Block->Status = NDIS_STATUS_SUCCESS;
        return;
    }
    WalkChain(Walk, below, Depth + 1, object, 0);
    Block->Status = FromDependents(Block, 1);
}

static VOID WalkChain(PWALK Walk, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST First, int Depth,
                      POFFLOADED_OBJECT Parent, BOOLEAN ParentIsPlaceholder) {
    for (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b = First; b != NULL; b = b->NextBlock)
        Process(Walk, b, Depth, Parent, ParentIsPlaceholder);
}

/* -- MiniportInitiateOffload ---------------------------------------------------------- */

static VOID OffloadAndComplete(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    WALK walk;
    walk.Adapter = Adapter;
    walk.SendCount = 0;
    pthread_mutex_lock(&Adapter->Lock);
    WalkChain(&walk, Root, 0, NULL, 0);
    pthread_mutex_unlock(&Adapter->Lock);
    NdisMInitiateOffloadComplete(Adapter->MiniportHandle, Root);
    /* A v1 target: the send data of offloaded connections is ours, transmitted and
     * acknowledged, handed back once the initiate completed (none when it is kept until
     * the terminate). */
    for (ULONG i = 0; i < walk.SendCount; i++) {
        for (PNET_BUFFER_LIST n = walk.Sends[i]; n != NULL; n = NET_BUFFER_LIST_NEXT_NBL(n))
            NET_BUFFER_LIST_STATUS(n) = NDIS_STATUS_SUCCESS;
        Adapter->Handlers->NdisTcpOffloadSendComplete(Adapter->MiniportHandle, walk.Sends[i]);
    }
}

typedef VOID (*SERVE)(PADAPTER, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST);

typedef struct _WORK {
    SERVE Serve;
    PADAPTER Adapter;
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root;
} WORK, *PWORK;

#ifdef OFFLOAD_COMPLETE_ON_WORKER
static void *Worker(void *Argument) {
    PWORK work = Argument;
    work->Serve(work->Adapter, work->Root);
    free(work);
    return NULL;
}
#endif

/* Serve a request inline, or (OFFLOAD_COMPLETE_ON_WORKER) on a thread of its own. */
static VOID Dispatch(SERVE Serve, PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
#ifdef OFFLOAD_COMPLETE_ON_WORKER
    PWORK work = malloc(sizeof *work);
    pthread_t thread;
    if (work != NULL) {
        work->Serve = Serve;
        work->Adapter = Adapter;
        work->Root = Root;
        if (pthread_create(&thread, NULL, Worker, work) == 0) {
            pthread_detach(thread);
            return;
        }
        free(work);
    }
#endif
    Serve(Adapter, Root);
}

static VOID InitiateOffload(NDIS_HANDLE MiniportAdapterContext,
                            PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    Dispatch(OffloadAndComplete, MiniportAdapterContext, OffloadBlockList);
}

#ifndef OFFLOAD_INITIATE_ONLY
#include "offload_lifecycle.c"
#endif

/* -- what the harness calls (offload_harness.h): like MiniportSetOptions,
 *    MiniportInitializeEx and MiniportHaltEx ---------------------------------------- */

NDIS_STATUS OffloadHarnessSetOptions(NDIS_HANDLE NdisDriverHandle) {
    static NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS chars;
    memset(&chars, 0, sizeof chars);
    chars.Header.Type = NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS;
    chars.Header.Revision = NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS_REVISION_1;
    chars.Header.Size = sizeof chars;
    chars.InitiateOffloadHandler = InitiateOffload;
#ifndef OFFLOAD_INITIATE_ONLY
    chars.TerminateOffloadHandler = TerminateOffload;
    chars.UpdateOffloadHandler = UpdateOffload;
    chars.InvalidateOffloadHandler = InvalidateOffload;
    chars.QueryOffloadHandler = QueryOffload;
#endif
    DriverHandle = NdisDriverHandle;
    return NdisSetOptionalHandlers(NdisDriverHandle, (PNDIS_DRIVER_OPTIONAL_HANDLERS)&chars);
}

NDIS_STATUS OffloadHarnessInitialize(NDIS_HANDLE NdisMiniportHandle,
                                     PNDIS_HANDLE MiniportAdapterContext,
                                     PNDIS_TCP_CONNECTION_OFFLOAD TcpConnectionOffload,
                                     POFFLOAD_HARNESS_LIMITS Limits) {
    PADAPTER adapter = calloc(1, sizeof *adapter);
    if (adapter == NULL)
        return NDIS_STATUS_RESOURCES;
    adapter->MiniportHandle = NdisMiniportHandle;
    if (NdisMGetOffloadHandlers(NdisMiniportHandle, NdisTcpChimneyOffload, &adapter->Handlers) !=
        NDIS_STATUS_SUCCESS) {
        free(adapter);
        return NDIS_STATUS_FAILURE;
    }
    pthread_mutex_init(&adapter->Lock, NULL);
    TcpConnectionOffload->SupportIPv4 = NDIS_OFFLOAD_SUPPORTED;
    TcpConnectionOffload->SupportIPv6 = NDIS_OFFLOAD_SUPPORTED;
    TcpConnectionOffload->TcpConnectionOffloadCapacity = TCP_CAPACITY;
    Limits->MaxInitialRcvWnd = MAX_INITIAL_RCV_WND;
    Limits->MaxPathMtu = MAX_PATH_MTU;
    Limits->VlanCapacity = VLAN_CAPACITY;
    *MiniportAdapterContext = adapter;
    return NDIS_STATUS_SUCCESS;
}

VOID OffloadHarnessHalt(NDIS_HANDLE MiniportAdapterContext) {
    PADAPTER adapter = MiniportAdapterContext;
    if (adapter == NULL)
        return;
    /* An initiate completing on a worker may still hold the lock: wait for it. */
    pthread_mutex_lock(&adapter->Lock);
    for (POFFLOADED_OBJECT o = adapter->Objects, next; o != NULL; o = next) {
        next = o->Next;
        o->Magic = 0;
        free(o);
    }
    adapter->Objects = NULL;
    pthread_mutex_unlock(&adapter->Lock);
    /* The adapter itself stays allocated: a worker of this adapter may still be about to
     * call NdisMInitiateOffloadComplete with it. A driver frees it after its workers end. */
}
