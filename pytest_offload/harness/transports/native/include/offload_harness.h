/*
 * offload_harness.h - what a native offload target exports to pytest-offload's harness
 * (pytest-offload; docs/native.md).
 *
 * The harness plays NDIS for one miniport adapter at a time. A library built from the
 * vendor's offload code exports three functions, shaped like the miniport callbacks they
 * stand for:
 *
 *   OffloadHarnessSetOptions   like MiniportSetOptions: called once after the library is
 *                              loaded; registers the chimney handlers by calling
 *                              NdisSetOptionalHandlers with an
 *                              NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS.
 *   OffloadHarnessInitialize   like MiniportInitializeEx: a fresh adapter for each test
 *                              case (nothing offloaded, every resource free); gives back
 *                              its MiniportAdapterContext and fills the declaration.
 *   OffloadHarnessHalt         like MiniportHaltEx: the case is over, free the adapter.
 *
 * The library is loaded once per child process and serves many cases; the adapter
 * context passed to the handlers is the one the last OffloadHarnessInitialize gave.
 * Completions go to NdisMInitiateOffloadComplete with the NdisMiniportHandle the adapter
 * was initialized with, from any thread, inside the handler or after it returned; send
 * data goes back through NdisMGetOffloadHandlers' NdisTcpOffloadSendComplete.
 */
#ifndef PYTEST_OFFLOAD_OFFLOAD_HARNESS_H
#define PYTEST_OFFLOAD_OFFLOAD_HARNESS_H

#include "ndischimney.h"

#define OFFLOAD_HARNESS_LIMITS_REVISION_1 1
/* A limit the target does not have. */
#define OFFLOAD_HARNESS_NO_LIMIT 0xFFFFFFFFu
#define OFFLOAD_HARNESS_MAX_INTERFACE_VLANS 16

/*
 * The suite's limits beyond NDIS_TCP_CONNECTION_OFFLOAD (OffloadCapabilities of
 * rules.md section 2). The harness fills every member with its default before calling
 * OffloadHarnessInitialize; the target changes the ones it has.
 */
typedef struct _OFFLOAD_HARNESS_LIMITS {
    NDIS_OBJECT_HEADER Header;     /* NDIS_OBJECT_TYPE_DEFAULT, revision 1, its size */
    USHORT NdisMajorVersion;       /* default 6 */
    USHORT NdisMinorVersion;       /* default 20 */
    ULONG MaxInitialRcvWnd;        /* default OFFLOAD_HARNESS_NO_LIMIT */
    ULONG MaxPathMtu;              /* default OFFLOAD_HARNESS_NO_LIMIT */
    ULONG VlanCapacity;            /* distinct non-zero VLAN IDs at once; default 4094 */
    ULONG NeighborCapacity;        /* default OFFLOAD_HARNESS_NO_LIMIT (none declared) */
    ULONG PathCapacity;            /* default OFFLOAD_HARNESS_NO_LIMIT (none declared) */
    BOOLEAN ConfigurableSourceMac; /* default FALSE */
    ULONG SourceMacCapacity;       /* default 0 */
    ULONG InterfaceVlanIdCount;    /* default 0: the interface has no VLAN */
    USHORT InterfaceVlanIds[OFFLOAD_HARNESS_MAX_INTERFACE_VLANS];
} OFFLOAD_HARNESS_LIMITS, *POFFLOAD_HARNESS_LIMITS;

/*
 * Exported by the target library (extern "C", default visibility).
 *
 * OffloadHarnessInitialize: TcpConnectionOffload comes pre-filled with a revision-2
 * header, Encapsulation NDIS_ENCAPSULATION_IEEE_802_3, SupportIPv4 and SupportIPv6
 * NDIS_OFFLOAD_SUPPORTED and TcpConnectionOffloadCapacity 0; the target sets at least the
 * capacity. The declaration of the first adapter is the target's for the whole run.
 * Anything but NDIS_STATUS_SUCCESS ends the run with a usage error.
 */
NDIS_STATUS OffloadHarnessSetOptions(IN NDIS_HANDLE NdisDriverHandle);
NDIS_STATUS OffloadHarnessInitialize(
    IN NDIS_HANDLE NdisMiniportHandle, OUT PNDIS_HANDLE MiniportAdapterContext,
    IN OUT PNDIS_TCP_CONNECTION_OFFLOAD TcpConnectionOffload,
    IN OUT POFFLOAD_HARNESS_LIMITS Limits);
VOID OffloadHarnessHalt(IN NDIS_HANDLE MiniportAdapterContext);

/*
 * The layout this library was compiled with, read by the harness when it loads it (a
 * weak definition: every file including this header defines the same value, the linker
 * keeps one). A library built for another layout is refused with a usage error.
 */
#define OFFLOAD_HARNESS_LAYOUT_TAG                                                          \
    ((ULONG)(offsetof(TCP_OFFLOAD_STATE_CACHED, TtlOrHopLimit) << 24 |                      \
             sizeof(TCP_OFFLOAD_STATE_CACHED) << 16 |                                       \
             sizeof(NDIS_MINIPORT_OFFLOAD_BLOCK_LIST) << 8 |                                \
             sizeof(TCP_OFFLOAD_STATE_DELEGATED)))
#if defined(__GNUC__) && !defined(OFFLOAD_HARNESS_NO_LAYOUT_TAG)
__attribute__((weak, visibility("default"))) const ULONG OffloadHarnessLayoutTag =
    OFFLOAD_HARNESS_LAYOUT_TAG;
#endif

#endif /* PYTEST_OFFLOAD_OFFLOAD_HARNESS_H */
