/*
 * offload_lifecycle.c - MiniportTerminateOffload, MiniportUpdateOffload,
 * MiniportInvalidateOffload and MiniportQueryOffload of the C example target.
 *
 * Part of offload_target.c's translation unit (it is included at its end, so the
 * example builds from one file as the harness's docs show); not compiled on its own.
 *
 * A request's tree keeps the layered shape of an initiate: depth 0 neighbors, 1 paths,
 * 2 connections; a block with a context slot names an object offloaded here (its slot
 * holds the context), a block without one is a placeholder (SUCCESS). A terminate's or a
 * query's named block is followed by the structure its Header.Type names, for the
 * target to fill; an update's by the new cached structure.
 */

#define MAX_NAMED 1024

typedef struct _NAMED {
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block;
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST ParentBlock; /* the block above it, or NULL */
    int Depth;
    POFFLOADED_OBJECT Object; /* NULL: it names nothing this adapter holds */
} NAMED, *PNAMED;

typedef struct _REQUEST {
    PADAPTER Adapter;
    NAMED Named[MAX_NAMED];
    ULONG Count;
    POFFLOADED_OBJECT Gone[MAX_NAMED]; /* what a terminate hands back */
    ULONG GoneCount;
} REQUEST, *PREQUEST;

/* Every block depth-first, breadth-next: placeholders SUCCESS, named blocks collected
 * with their object (looked up by context, compared, never dereferenced blindly). */
static VOID Collect(PREQUEST Request, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST First, int Depth,
                    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST ParentBlock) {
    for (PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST b = First; b != NULL; b = b->NextBlock) {
        if (b->MiniportOffloadContext == NULL) {
            b->Status = NDIS_STATUS_SUCCESS;
        } else if (Request->Count < MAX_NAMED) {
            PNAMED n = &Request->Named[Request->Count++];
            n->Block = b;
            n->ParentBlock = ParentBlock;
            n->Depth = Depth;
            PVOID context = *b->MiniportOffloadContext;
            n->Object = context != NULL && Depth <= LayerTcp
                            ? Lookup(Request->Adapter, context, (LAYER)Depth)
                            : NULL;
            if (n->Object != NULL)
                n->Object->Named = 1;
        } else {
            b->Status = NDIS_STATUS_RESOURCES;
        }
        Collect(Request, b->DependentBlockList, Depth + 1, b);
    }
}

static VOID Unmark(PREQUEST Request) {
    for (ULONG i = 0; i < Request->Count; i++)
        if (Request->Named[i].Object != NULL)
            Request->Named[i].Object->Named = 0;
}

/* The state structures after a block, by Header.Type: a pointer to each part (CONST,
 * CACHED, DELEGATED) that follows, NULL for the others. FALSE: not a type of Layer. */
static BOOLEAN PartsOf(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, LAYER Layer, PUCHAR Parts[3]) {
    /* CONST, CACHED, DELEGATED and the combined type of each layer (OFFLOAD_STATE_TYPE) */
    static const UCHAR Types[4][4] = {
        {NeighborOffloadConstState, NeighborOffloadCachedState, NeighborOffloadDelegatedState,
         NeighborOffloadState},
        {Ip4OffloadConstState, Ip4OffloadCachedState, Ip4OffloadDelegatedState, Ip4OffloadState},
        {TcpOffloadConstState, TcpOffloadCachedState, TcpOffloadDelegatedState, TcpOffloadState},
        {Ip6OffloadConstState, Ip6OffloadCachedState, Ip6OffloadDelegatedState, Ip6OffloadState},
    };
    UCHAR type = Block->Header.Type;
    int part = -1;
    Parts[0] = Parts[1] = Parts[2] = NULL;
    for (int i = 0; i < 4; i++) {
        if (Types[Layer][i] == type || (Layer == LayerPath && Types[3][i] == type))
            part = i;
    }
    if (part < 0)
        return 0;
    PUCHAR at = (PUCHAR)(Block + 1);
    if (part == 3) { /* a combined type: the three parts, each at its Length */
        for (int i = 0; i < 3; i++) {
            Parts[i] = at;
            at += StateLength[Layer][i];
        }
    } else {
        Parts[part] = at;
    }
    return 1;
}

static VOID FreeVlan(PADAPTER Adapter, POFFLOADED_OBJECT Neighbor) {
    if (Neighbor->Vlan == 0)
        return;
    for (POFFLOADED_OBJECT o = Adapter->Objects; o != NULL; o = o->Next)
        if (o != Neighbor && o->Layer == LayerNeighbor && o->Vlan == Neighbor->Vlan)
            return; /* still in use */
    for (ULONG i = 0; i < Adapter->VlanCount; i++) {
        if (Adapter->Vlans[i] == Neighbor->Vlan) {
            Adapter->Vlans[i] = Adapter->Vlans[--Adapter->VlanCount];
            return;
        }
    }
}

static VOID Unlink(PADAPTER Adapter, POFFLOADED_OBJECT Object) {
    for (POFFLOADED_OBJECT *at = &Adapter->Objects; *at != NULL; at = &(*at)->Next) {
        if (*at == Object) {
            *at = Object->Next;
            return;
        }
    }
}

/* -- MiniportTerminateOffload --------------------------------------------------------- */

static BOOLEAN LeavesDependents(PADAPTER Adapter, POFFLOADED_OBJECT Object) {
    for (POFFLOADED_OBJECT o = Adapter->Objects; o != NULL; o = o->Next)
        if (o->Parent == Object && !o->Named)
            return 1;
    return 0;
}

static VOID HandBack(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, POFFLOADED_OBJECT Object,
                     PUCHAR Delegated) {
    if (Object->Layer == LayerNeighbor) {
        PNEIGHBOR_OFFLOAD_STATE_DELEGATED d = (PNEIGHBOR_OFFLOAD_STATE_DELEGATED)Delegated;
        d->NicReachabilityDelta = 0;
        return;
    }
    if (Object->Layer == LayerPath)
        return; /* PATH_OFFLOAD_STATE_DELEGATED is a header alone */
    /* The delegated state as offloaded: no segment reached this adapter, so every
     * variable is where the host left it (lifecycle.md H9). */
    PTCP_OFFLOAD_STATE_DELEGATED d = (PTCP_OFFLOAD_STATE_DELEGATED)Delegated;
    OFFLOAD_STATE_HEADER header = d->Header;
    memcpy(d, Object->Delegated, sizeof *d);
    d->Header = header;
    PNET_BUFFER_LIST tail = Object->Sends;
    while (tail != NULL && NET_BUFFER_LIST_NEXT_NBL(tail) != NULL)
        tail = NET_BUFFER_LIST_NEXT_NBL(tail);
    d->SendDataHead = Object->Sends; /* unsent data, chained in its original order */
    d->SendDataTail = tail;
    d->BufferedData = Object->Buffered;
    Block->NetBufferListChain = Object->Sends;
}

/* -- one request: every named block judged under the lock, then the completion --------- */

typedef NDIS_STATUS (*JUDGE)(PREQUEST Request, PNAMED Named);
typedef VOID (*COMPLETE)(NDIS_HANDLE MiniportAdapterHandle,
                         PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);

static VOID Serve(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root, JUDGE Judge,
                  COMPLETE Complete) {
    PREQUEST request = calloc(1, sizeof *request);
    if (request == NULL) {
        Complete(Adapter->MiniportHandle, Root); /* statuses left as they came */
        return;
    }
    request->Adapter = Adapter;
    pthread_mutex_lock(&Adapter->Lock);
    Collect(request, Root, 0, NULL);
    for (ULONG i = 0; i < request->Count; i++)
        request->Named[i].Block->Status = Judge(request, &request->Named[i]);
    Unmark(request);
    for (ULONG i = 0; i < request->GoneCount; i++) { /* a terminate's: leave the tables */
        POFFLOADED_OBJECT o = request->Gone[i];
        Unlink(Adapter, o);
        if (o->Layer == LayerTcp)
            Adapter->TcpCount--;
        else if (o->Layer == LayerNeighbor)
            FreeVlan(Adapter, o);
    }
    pthread_mutex_unlock(&Adapter->Lock);
    Complete(Adapter->MiniportHandle, Root);
    for (ULONG i = 0; i < request->GoneCount; i++) {
        request->Gone[i]->Magic = 0; /* the context is retired: never looked up again */
        free(request->Gone[i]);
    }
    free(request);
}

/* -- MiniportTerminateOffload --------------------------------------------------------- */

static NDIS_STATUS Terminate(PREQUEST Request, PNAMED Named) {
    PUCHAR parts[3];
    POFFLOADED_OBJECT o = Named->Object;
    if (o == NULL || LeavesDependents(Request->Adapter, o) ||
        !PartsOf(Named->Block, o->Layer, parts) || parts[2] == NULL)
        return NDIS_STATUS_FAILURE; /* this block alone */
    HandBack(Named->Block, o, parts[2]);
    Request->Gone[Request->GoneCount++] = o; /* freed after the completion */
    return NDIS_STATUS_SUCCESS;
}

/* -- MiniportUpdateOffload ------------------------------------------------------------ */

static NDIS_STATUS Update(PREQUEST Request, PNAMED Named) {
    POFFLOADED_OBJECT o = Named->Object;
    PUCHAR parts[3];
    if (o == NULL || !PartsOf(Named->Block, o->Layer, parts))
        return NDIS_STATUS_FAILURE;
    if (parts[1] == NULL || parts[0] != NULL) {
        /* No new cached state: only a neighbor anchoring a relink comes so. */
        return o->Layer == LayerNeighbor && Named->Block->DependentBlockList != NULL
                   ? NDIS_STATUS_SUCCESS
                   : NDIS_STATUS_FAILURE;
    }
    memcpy(o->Cached, parts[1], StateLength[o->Layer][1]);
    if (o->Layer == LayerTcp) /* one-shot commands, not variables (reading 7) */
        ((PTCP_OFFLOAD_STATE_CACHED)o->Cached)->Flags &=
            (USHORT)~(TCP_FLAG_KEEP_ALIVE_RESTART | TCP_FLAG_MAX_RT_RESTART |
                      TCP_FLAG_UPDATE_RCV_WND);
    if (o->Layer == LayerPath && Named->ParentBlock != NULL &&
        Named->ParentBlock->MiniportOffloadContext != NULL) {
        POFFLOADED_OBJECT anchor =
            Lookup(Request->Adapter, *Named->ParentBlock->MiniportOffloadContext, LayerNeighbor);
        if (anchor != NULL)
            o->Parent = anchor; /* relinked to the neighbor above it */
    }
    return NDIS_STATUS_SUCCESS;
}

/* -- MiniportInvalidateOffload -------------------------------------------------------- */

static NDIS_STATUS Invalidate(PREQUEST Request, PNAMED Named) {
    (void)Request;
    if (Named->Object == NULL)
        return NDIS_STATUS_FAILURE;
    Named->Object->Invalidated = 1; /* still offloaded, holding its capacity */
    return NDIS_STATUS_SUCCESS;
}

/* -- MiniportQueryOffload ------------------------------------------------------------- */

static ULONG Bytes(PNET_BUFFER_LIST Chain) {
    ULONG total = 0;
    for (PNET_BUFFER_LIST n = Chain; n != NULL; n = NET_BUFFER_LIST_NEXT_NBL(n))
        total += n->DataLength;
    return total;
}

/* Copy a saved part over the structure, keeping the header NDIS gave it. */
static VOID Fill(PUCHAR Into, const UCHAR *From, ULONG Length) {
    memcpy(Into + sizeof(OFFLOAD_STATE_HEADER), From + sizeof(OFFLOAD_STATE_HEADER),
           Length - sizeof(OFFLOAD_STATE_HEADER));
}

static VOID Current(POFFLOADED_OBJECT Object, PUCHAR Parts[3]) {
    LAYER layer = Object->Layer;
    if (Parts[0] != NULL) {
        Fill(Parts[0], Object->Const, StateLength[layer][0]);
        if (layer == LayerPath) {
            PPATH_OFFLOAD_STATE_CONST c = (PPATH_OFFLOAD_STATE_CONST)Parts[0];
            c->SourceAddress = Object->SourceAddress;
            c->DestinationAddress = Object->DestinationAddress;
        }
    }
    if (Parts[1] != NULL)
        Fill(Parts[1], Object->Cached, StateLength[layer][1]);
    if (Parts[2] != NULL) {
        if (layer == LayerNeighbor) {
            ((PNEIGHBOR_OFFLOAD_STATE_DELEGATED)Parts[2])->NicReachabilityDelta = 0;
        } else if (layer == LayerTcp) {
            PTCP_OFFLOAD_STATE_DELEGATED d = (PTCP_OFFLOAD_STATE_DELEGATED)Parts[2];
            Fill(Parts[2], Object->Delegated, StateLength[layer][2]);
            /* The query arms of the unions: what is outstanding, never the NBLs. */
            d->SendBacklogSize = Bytes(Object->Sends);
            d->ReceiveBacklogSize = Bytes(Object->Buffered);
        }
    }
}

static NDIS_STATUS Query(PREQUEST Request, PNAMED Named) {
    PUCHAR parts[3];
    (void)Request;
    if (Named->Object == NULL || !PartsOf(Named->Block, Named->Object->Layer, parts))
        return NDIS_STATUS_FAILURE;
    Current(Named->Object, parts);
    return NDIS_STATUS_SUCCESS;
}

static VOID TerminateAndComplete(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    Serve(Adapter, Root, Terminate, NdisMTerminateOffloadComplete);
}

static VOID UpdateAndComplete(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    Serve(Adapter, Root, Update, NdisMUpdateOffloadComplete);
}

static VOID InvalidateAndComplete(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    Serve(Adapter, Root, Invalidate, NdisMInvalidateOffloadComplete);
}

static VOID QueryAndComplete(PADAPTER Adapter, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Root) {
    Serve(Adapter, Root, Query, NdisMQueryOffloadStateComplete);
}

/* -- the handlers ---------------------------------------------------------------------- */

static VOID TerminateOffload(NDIS_HANDLE MiniportAdapterContext,
                             PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    Dispatch(TerminateAndComplete, MiniportAdapterContext, OffloadBlockList);
}

static VOID UpdateOffload(NDIS_HANDLE MiniportAdapterContext,
                          PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    Dispatch(UpdateAndComplete, MiniportAdapterContext, OffloadBlockList);
}

static VOID InvalidateOffload(NDIS_HANDLE MiniportAdapterContext,
                              PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    Dispatch(InvalidateAndComplete, MiniportAdapterContext, OffloadBlockList);
}

static VOID QueryOffload(NDIS_HANDLE MiniportAdapterContext,
                         PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    Dispatch(QueryAndComplete, MiniportAdapterContext, OffloadBlockList);
}
