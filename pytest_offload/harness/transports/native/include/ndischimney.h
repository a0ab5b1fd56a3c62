/*
 * ndischimney.h - a user-mode mirror of the NDIS 6.x TCP chimney offload declarations
 * (pytest-offload).
 *
 * Structure, field, type, enum, constant, handler and function names are NDIS's, so that
 * driver code written against the WDK compiles unchanged; the x64 layout is the one of
 * Windows, checked below field by field at compile time. Written for pytest-offload from
 * the public layout facts (docs/native.md); not a copy of the WDK header.
 *
 * Build with MS bitfield layout (gcc/clang: -mms-bitfields). Without it GCC packs the
 * FlowLabel:20 bitfield of TCP_OFFLOAD_STATE_CACHED together with the UCHARs after it
 * (TtlOrHopLimit at 0x27 instead of 0x28) and the build stops here with that message.
 */
#ifndef PYTEST_OFFLOAD_NDISCHIMNEY_H
#define PYTEST_OFFLOAD_NDISCHIMNEY_H

#include "ndis.h"

#if NDIS_SUPPORT_NDIS6

/* -- state types and the header of every state structure ----------------------------- */

typedef enum _OFFLOAD_STATE_TYPE {
    NeighborOffloadConstState = 1,
    NeighborOffloadCachedState,
    NeighborOffloadDelegatedState,
    NeighborOffloadState,
    Ip4OffloadConstState,
    Ip4OffloadCachedState,
    Ip4OffloadDelegatedState,
    Ip4OffloadState,
    Ip6OffloadConstState,
    Ip6OffloadCachedState,
    Ip6OffloadDelegatedState,
    Ip6OffloadState,
    TcpOffloadConstState,
    TcpOffloadCachedState,
    TcpOffloadDelegatedState,
    TcpOffloadResourceState,
    TcpOffloadState,
    FilterReservedOffloadState = 0xFE,
    MaximumOffloadState = 0xFF
} OFFLOAD_STATE_TYPE;

typedef struct _OFFLOAD_STATE_HEADER {
    ULONG Length; /* the structure's byte size, this header included (the host fills it) */
    ULONG RecognizedOptions;
} OFFLOAD_STATE_HEADER, *POFFLOAD_STATE_HEADER;

/* -- neighbor ----------------------------------------------------------------------- */

typedef struct _NEIGHBOR_OFFLOAD_STATE_CONST {
    OFFLOAD_STATE_HEADER Header;
    UCHAR DlSourceAddress[32];
    ULONG VlanId : 12;
} NEIGHBOR_OFFLOAD_STATE_CONST, *PNEIGHBOR_OFFLOAD_STATE_CONST;

typedef struct _NEIGHBOR_OFFLOAD_STATE_CACHED {
    OFFLOAD_STATE_HEADER Header;
    UCHAR DlDestinationAddress[32];
    ULONG HostReachabilityDelta;
} NEIGHBOR_OFFLOAD_STATE_CACHED, *PNEIGHBOR_OFFLOAD_STATE_CACHED;

typedef struct _NEIGHBOR_OFFLOAD_STATE_DELEGATED {
    OFFLOAD_STATE_HEADER Header;
    ULONG NicReachabilityDelta;
} NEIGHBOR_OFFLOAD_STATE_DELEGATED, *PNEIGHBOR_OFFLOAD_STATE_DELEGATED;

/* -- path --------------------------------------------------------------------------- */

typedef struct _PATH_OFFLOAD_STATE_CONST {
    OFFLOAD_STATE_HEADER Header;
    const UCHAR *SourceAddress;      /* 4 (IPv4) or 16 (IPv6) bytes, network order */
    const UCHAR *DestinationAddress;
} PATH_OFFLOAD_STATE_CONST, *PPATH_OFFLOAD_STATE_CONST;

typedef struct _PATH_OFFLOAD_STATE_CACHED {
    OFFLOAD_STATE_HEADER Header;
    ULONG PathMtu;
} PATH_OFFLOAD_STATE_CACHED, *PPATH_OFFLOAD_STATE_CACHED;

typedef struct _PATH_OFFLOAD_STATE_DELEGATED {
    OFFLOAD_STATE_HEADER Header;
} PATH_OFFLOAD_STATE_DELEGATED, *PPATH_OFFLOAD_STATE_DELEGATED;

/* -- TCP connection ----------------------------------------------------------------- */

#define TCP_FLAG_TIMESTAMP_ENABLED 0x00000001
#define TCP_FLAG_SACK_ENABLED 0x00000002
#define TCP_FLAG_WINDOW_SCALING_ENABLED 0x00000004

typedef struct _TCP_OFFLOAD_STATE_CONST {
    OFFLOAD_STATE_HEADER Header;
    USHORT Flags;
    USHORT RemotePort;
    USHORT LocalPort;
    UCHAR SndWindScale : 4;
    UCHAR RcvWindScale : 4;
    USHORT RemoteMss;
    ULONG HashValue;
} TCP_OFFLOAD_STATE_CONST, *PTCP_OFFLOAD_STATE_CONST;

#define TCP_FLAG_KEEP_ALIVE_ENABLED 0x00000001
#define TCP_FLAG_NAGLING_ENABLED 0x00000002
#define TCP_FLAG_KEEP_ALIVE_RESTART 0x00000004
#define TCP_FLAG_MAX_RT_RESTART 0x00000008
#define TCP_FLAG_UPDATE_RCV_WND 0x00000010

typedef struct _TCP_OFFLOAD_STATE_CACHED {
    OFFLOAD_STATE_HEADER Header;
    USHORT Flags;
    ULONG InitialRcvWnd;
    ULONG RcvIndicationSize;
    UCHAR KaProbeCount;
    ULONG KaTimeout;
    ULONG KaInterval;
    ULONG MaxRT;
    ULONG FlowLabel : 20;
    UCHAR TtlOrHopLimit;
    UCHAR TosOrTrafficClass;
    UCHAR UserPriority : 3;
} TCP_OFFLOAD_STATE_CACHED, *PTCP_OFFLOAD_STATE_CACHED;

typedef enum _TCP_OFFLOAD_CONNECTION_STATE {
    TcpConnectionClosed,
    TcpConnectionListen,
    TcpConnectionSynSent,
    TcpConnectionSynRcvd,
    TcpConnectionEstablished,
    TcpConnectionFinWait1,
    TcpConnectionFinWait2,
    TcpConnectionCloseWait,
    TcpConnectionClosing,
    TcpConnectionLastAck,
    TcpConnectionTimeWait,
    TcpConnectionMaxState
} TCP_OFFLOAD_CONNECTION_STATE, *PTCP_OFFLOAD_CONNECTION_STATE;

typedef struct _TCP_OFFLOAD_STATE_DELEGATED {
    OFFLOAD_STATE_HEADER Header;
    TCP_OFFLOAD_CONNECTION_STATE State;
    USHORT Flags;
    ULONG RcvNxt;
    ULONG RcvWnd;
    ULONG SndUna;
    ULONG SndNxt;
    ULONG SndMax;
    ULONG SndWnd;
    ULONG MaxSndWnd;
    ULONG SendWL1;
    ULONG CWnd;
    ULONG SsThresh;
    USHORT SRtt;
    USHORT RttVar;
    ULONG TsRecent;
    ULONG TsRecentAge;
    ULONG TsTime;
    ULONG TotalRT;
    UCHAR DupAckCount;
    UCHAR SndWndProbeCount;
    struct {
        UCHAR ProbeCount;
        ULONG TimeoutDelta; /* 0xFFFFFFFF: the timer is not running */
    } KeepAlive;
    struct {
        UCHAR Count;
        ULONG TimeoutDelta; /* 0xFFFFFFFF: the timer is not running */
    } Retransmit;
    union {
        struct {
            PNET_BUFFER_LIST SendDataHead; /* NBLs of the block's NetBufferListChain */
            PNET_BUFFER_LIST SendDataTail;
        };
        ULONG SendBacklogSize;
    };
    union {
        PNET_BUFFER_LIST BufferedData;
        ULONG ReceiveBacklogSize;
    };
#if NDIS_SUPPORT_NDIS61
    ULONG DWnd;
#endif
} TCP_OFFLOAD_STATE_DELEGATED, *PTCP_OFFLOAD_STATE_DELEGATED;

/* -- the block list ------------------------------------------------------------------ */

typedef struct _NDIS_MINIPORT_OFFLOAD_BLOCK_LIST {
    NDIS_OBJECT_HEADER Header; /* Header.Type: the OFFLOAD_STATE_TYPE of the state after it */
    struct _NDIS_MINIPORT_OFFLOAD_BLOCK_LIST *NextBlock;
    struct _NDIS_MINIPORT_OFFLOAD_BLOCK_LIST *DependentBlockList;
    NDIS_STATUS Status;
    PVOID NdisReserved[2];
    PVOID *MiniportOffloadContext; /* NULL: placeholder; *slot NULL: new offload */
    NDIS_HANDLE NdisOffloadHandle;
    PVOID ProtocolReserved[2];
    PVOID MiniportReserved[2];
    PVOID ImReserved[2];
    PVOID Scratch[2];
    PVOID SourceHandle;
    NDIS_PORT_NUMBER PortNumber;
    PNET_BUFFER_LIST NetBufferListChain;
} NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, *PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST;

/* -- capabilities (ntddndis.h in the WDK) --------------------------------------------- */

#define NDIS_ENCAPSULATION_IEEE_802_3 0x00000002
#define NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED 0x00000010
#define NDIS_OFFLOAD_NOT_SUPPORTED 0
#define NDIS_OFFLOAD_SUPPORTED 1
#define NDIS_TCP_CONNECTION_OFFLOAD_REVISION_1 1
#define NDIS_TCP_CONNECTION_OFFLOAD_REVISION_2 2

typedef struct _NDIS_TCP_CONNECTION_OFFLOAD {
    NDIS_OBJECT_HEADER Header;
    ULONG Encapsulation;
    ULONG SupportIPv4 : 2;
    ULONG SupportIPv6 : 2;
    ULONG SupportIPv6ExtensionHeaders : 2;
    ULONG SupportSack : 2;
#if NDIS_SUPPORT_NDIS61
    ULONG CongestionAlgorithm : 4;
#endif
    ULONG TcpConnectionOffloadCapacity;
    ULONG Flags;
} NDIS_TCP_CONNECTION_OFFLOAD, *PNDIS_TCP_CONNECTION_OFFLOAD;

/* -- handlers a miniport registers, and what NDIS gives it back ------------------------ */

typedef VOID (*W_INITIATE_OFFLOAD_HANDLER)(
    IN NDIS_HANDLE MiniportAdapterContext, IN OUT PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
typedef VOID (*W_TERMINATE_OFFLOAD_HANDLER)(
    IN NDIS_HANDLE MiniportAdapterContext, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
typedef VOID (*W_UPDATE_OFFLOAD_HANDLER)(
    IN NDIS_HANDLE MiniportAdapterContext, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
typedef VOID (*W_INVALIDATE_OFFLOAD_HANDLER)(
    IN NDIS_HANDLE MiniportAdapterContext, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
typedef VOID (*W_QUERY_OFFLOAD_HANDLER)(
    IN NDIS_HANDLE MiniportAdapterContext, IN OUT PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);

#define NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS_REVISION_1 1

typedef struct _NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS {
    NDIS_OBJECT_HEADER Header;
    ULONG Flags;
    W_INITIATE_OFFLOAD_HANDLER InitiateOffloadHandler;
    W_TERMINATE_OFFLOAD_HANDLER TerminateOffloadHandler;
    W_UPDATE_OFFLOAD_HANDLER UpdateOffloadHandler;
    W_INVALIDATE_OFFLOAD_HANDLER InvalidateOffloadHandler;
    W_QUERY_OFFLOAD_HANDLER QueryOffloadHandler;
} NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS,
    *PNDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS;

typedef enum _NDIS_CHIMNEY_OFFLOAD_TYPE {
    NdisTcpChimneyOffload = 1,
    NdisMaxChimneyOffload
} NDIS_CHIMNEY_OFFLOAD_TYPE, *PNDIS_CHIMNEY_OFFLOAD_TYPE;

typedef enum _TCP_OFFLOAD_EVENT_TYPE {
    TcpIndicateSendBacklogChange = 1, /* domain.md section 7, the values of [WDK-chimney] */
    TcpIndicateDisconnect,
    TcpIndicateRetrieve,
    TcpIndicateAbort,
    TcpIndicateMaxEvent
} TCP_OFFLOAD_EVENT_TYPE, *PTCP_OFFLOAD_EVENT_TYPE;

/* The EventSpecificInformation of TcpIndicateRetrieve (domain.md section 7). */
typedef enum _TCP_UPLOAD_REASON {
    LowActivity = 1,
    HighDropRate,
    SmallIO,
    NoBufferPreposting,
    ReceivedUrgentData,
    HighFragmentation,
    HighOutOfOrderPackets,
    TimeoutExpiration,
    InvalidState,
    UploadRequested,
    HardwareFailure,
    MaxUploadReason
} TCP_UPLOAD_REASON, *PTCP_UPLOAD_REASON;

typedef VOID (*NDIS_TCP_OFFLOAD_EVENT_HANDLER)(
    IN NDIS_HANDLE NdisOffloadHandle, IN ULONG EventType, IN ULONG EventSpecificInformation);
typedef NDIS_STATUS (*NDIS_TCP_OFFLOAD_RECEIVE_INDICATE)(
    IN NDIS_HANDLE NdisOffloadHandle, IN PNET_BUFFER_LIST NetBufferList, IN NDIS_STATUS Status,
    OUT PULONG BytesConsumed);
typedef VOID (*NDIS_TCP_OFFLOAD_SEND_COMPLETE)(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNET_BUFFER_LIST NetBufferList);
typedef VOID (*NDIS_TCP_OFFLOAD_RECEIVE_COMPLETE)(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNET_BUFFER_LIST NetBufferList);
typedef VOID (*NDIS_TCP_OFFLOAD_DISCONNECT_COMPLETE)(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNET_BUFFER_LIST NetBufferList);
typedef VOID (*NDIS_TCP_OFFLOAD_FORWARD_COMPLETE)(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNET_BUFFER_LIST NetBufferList);

typedef struct _NDIS_TCP_OFFLOAD_EVENT_HANDLERS {
    NDIS_OBJECT_HEADER Header;
    NDIS_TCP_OFFLOAD_EVENT_HANDLER NdisTcpOffloadEventHandler;
    NDIS_TCP_OFFLOAD_RECEIVE_INDICATE NdisTcpOffloadReceiveHandler;
    NDIS_TCP_OFFLOAD_SEND_COMPLETE NdisTcpOffloadSendComplete;
    NDIS_TCP_OFFLOAD_RECEIVE_COMPLETE NdisTcpOffloadReceiveComplete;
    NDIS_TCP_OFFLOAD_DISCONNECT_COMPLETE NdisTcpOffloadDisconnectComplete;
    NDIS_TCP_OFFLOAD_FORWARD_COMPLETE NdisTcpOffloadForwardComplete;
} NDIS_TCP_OFFLOAD_EVENT_HANDLERS, *PNDIS_TCP_OFFLOAD_EVENT_HANDLERS;

/* Provided by the suite's harness, as NDIS provides them to a miniport. */
NDIS_API VOID NdisMInitiateOffloadComplete(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
NDIS_API VOID NdisMTerminateOffloadComplete(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
NDIS_API VOID NdisMUpdateOffloadComplete(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
NDIS_API VOID NdisMInvalidateOffloadComplete(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
NDIS_API VOID NdisMQueryOffloadStateComplete(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList);
NDIS_API VOID NdisMOffloadEventIndicate(
    IN NDIS_HANDLE NdisMiniportHandle, IN PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList,
    IN ULONG IndicationCode);
NDIS_API NDIS_STATUS NdisMGetOffloadHandlers(
    IN NDIS_HANDLE NdisMiniportHandle, IN NDIS_CHIMNEY_OFFLOAD_TYPE ChimneyType,
    OUT PNDIS_TCP_OFFLOAD_EVENT_HANDLERS *OffloadHandlers);

/* -- the Windows x64 layout, checked at compile time ---------------------------------- */

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
#define NDISCHIMNEY_LAYOUT(type, field, offset)                                              \
    _Static_assert(offsetof(type, field) == (offset),                                       \
                   #type "." #field " must be at " #offset " as on Windows x64: build with " \
                   "MS bitfield layout (-mms-bitfields)")
#define NDISCHIMNEY_SIZE(type, size)                                                        \
    _Static_assert(sizeof(type) == (size),                                                  \
                   "sizeof(" #type ") must be " #size " as on Windows x64: build with MS "   \
                   "bitfield layout (-mms-bitfields)")

NDISCHIMNEY_SIZE(NDIS_OBJECT_HEADER, 0x4);
NDISCHIMNEY_SIZE(OFFLOAD_STATE_HEADER, 0x8);

NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Header, 0x00);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, NextBlock, 0x08);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, DependentBlockList, 0x10);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Status, 0x18);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, NdisReserved, 0x20);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, MiniportOffloadContext, 0x30);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, NdisOffloadHandle, 0x38);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, ProtocolReserved, 0x40);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, MiniportReserved, 0x50);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, ImReserved, 0x60);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, Scratch, 0x70);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, SourceHandle, 0x80);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, PortNumber, 0x88);
NDISCHIMNEY_LAYOUT(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, NetBufferListChain, 0x90);
NDISCHIMNEY_SIZE(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST, 0x98);

NDISCHIMNEY_LAYOUT(NEIGHBOR_OFFLOAD_STATE_CONST, DlSourceAddress, 0x08);
NDISCHIMNEY_SIZE(NEIGHBOR_OFFLOAD_STATE_CONST, 0x2C);
NDISCHIMNEY_LAYOUT(NEIGHBOR_OFFLOAD_STATE_CACHED, DlDestinationAddress, 0x08);
NDISCHIMNEY_LAYOUT(NEIGHBOR_OFFLOAD_STATE_CACHED, HostReachabilityDelta, 0x28);
NDISCHIMNEY_SIZE(NEIGHBOR_OFFLOAD_STATE_CACHED, 0x2C);
NDISCHIMNEY_LAYOUT(NEIGHBOR_OFFLOAD_STATE_DELEGATED, NicReachabilityDelta, 0x08);
NDISCHIMNEY_SIZE(NEIGHBOR_OFFLOAD_STATE_DELEGATED, 0x0C);

NDISCHIMNEY_LAYOUT(PATH_OFFLOAD_STATE_CONST, SourceAddress, 0x08);
NDISCHIMNEY_LAYOUT(PATH_OFFLOAD_STATE_CONST, DestinationAddress, 0x10);
NDISCHIMNEY_SIZE(PATH_OFFLOAD_STATE_CONST, 0x18);
NDISCHIMNEY_LAYOUT(PATH_OFFLOAD_STATE_CACHED, PathMtu, 0x08);
NDISCHIMNEY_SIZE(PATH_OFFLOAD_STATE_CACHED, 0x0C);
NDISCHIMNEY_SIZE(PATH_OFFLOAD_STATE_DELEGATED, 0x08);

NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CONST, Flags, 0x08);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CONST, RemotePort, 0x0A);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CONST, LocalPort, 0x0C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CONST, RemoteMss, 0x10);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CONST, HashValue, 0x14);
NDISCHIMNEY_SIZE(TCP_OFFLOAD_STATE_CONST, 0x18);

NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, Flags, 0x08);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, InitialRcvWnd, 0x0C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, RcvIndicationSize, 0x10);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, KaProbeCount, 0x14);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, KaTimeout, 0x18);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, KaInterval, 0x1C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, MaxRT, 0x20);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, TtlOrHopLimit, 0x28);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_CACHED, TosOrTrafficClass, 0x29);
NDISCHIMNEY_SIZE(TCP_OFFLOAD_STATE_CACHED, 0x2C);

NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, State, 0x08);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, Flags, 0x0C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, RcvNxt, 0x10);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, RcvWnd, 0x14);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SndUna, 0x18);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SndNxt, 0x1C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SndMax, 0x20);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SndWnd, 0x24);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, MaxSndWnd, 0x28);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SendWL1, 0x2C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, CWnd, 0x30);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SsThresh, 0x34);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SRtt, 0x38);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, RttVar, 0x3A);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, TsRecent, 0x3C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, TsRecentAge, 0x40);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, TsTime, 0x44);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, TotalRT, 0x48);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, DupAckCount, 0x4C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SndWndProbeCount, 0x4D);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, KeepAlive, 0x50);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, KeepAlive.TimeoutDelta, 0x54);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, Retransmit, 0x58);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, Retransmit.TimeoutDelta, 0x5C);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SendDataHead, 0x60);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, SendDataTail, 0x68);
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, BufferedData, 0x70);
#if NDIS_SUPPORT_NDIS61
NDISCHIMNEY_LAYOUT(TCP_OFFLOAD_STATE_DELEGATED, DWnd, 0x78);
NDISCHIMNEY_SIZE(TCP_OFFLOAD_STATE_DELEGATED, 0x80);
#endif

NDISCHIMNEY_LAYOUT(NDIS_TCP_CONNECTION_OFFLOAD, Encapsulation, 0x04);
NDISCHIMNEY_LAYOUT(NDIS_TCP_CONNECTION_OFFLOAD, TcpConnectionOffloadCapacity, 0x0C);
NDISCHIMNEY_SIZE(NDIS_TCP_CONNECTION_OFFLOAD, 0x14);

#undef NDISCHIMNEY_LAYOUT
#undef NDISCHIMNEY_SIZE
#endif /* x64 */

#endif /* NDIS_SUPPORT_NDIS6 */
#endif /* PYTEST_OFFLOAD_NDISCHIMNEY_H */
