/*
 * ndis.h - the NDIS base types the user-mode chimney header needs (pytest-offload).
 *
 * A user-mode stand-in for the few kernel NDIS definitions that offload code walking a
 * state tree uses: fixed-width base types (ULONG is 32 bits here as on Windows, never
 * Linux's 64-bit unsigned long), NDIS_OBJECT_HEADER, NDIS_PORT_NUMBER, the NDIS_STATUS
 * values of TCP chimney offload, and a minimal NET_BUFFER_LIST (its next link and its
 * status, reached through NDIS's own accessor macros). Written for pytest-offload from
 * the public layout facts; not a copy of any WDK header.
 */
#ifndef PYTEST_OFFLOAD_NDIS_H
#define PYTEST_OFFLOAD_NDIS_H

#include <stddef.h>
#include <stdint.h>

#ifndef NDIS_SUPPORT_NDIS6
#define NDIS_SUPPORT_NDIS6 1
#endif
#ifndef NDIS_SUPPORT_NDIS61
#define NDIS_SUPPORT_NDIS61 1
#endif

#ifndef VOID
#define VOID void
#endif
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef NDIS_API
#define NDIS_API
#endif

typedef uint8_t UCHAR, *PUCHAR;
typedef uint16_t USHORT, *PUSHORT;
typedef uint32_t ULONG, *PULONG;
typedef int32_t LONG;
typedef uint64_t ULONG64;
typedef uintptr_t ULONG_PTR;
typedef unsigned char BOOLEAN;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
typedef void *PVOID;
typedef PVOID NDIS_HANDLE, *PNDIS_HANDLE;
/* NDIS_STATUS is a signed 32-bit int: 0xC0000001 arrives as a negative number. */
typedef int32_t NDIS_STATUS, *PNDIS_STATUS;
typedef ULONG NDIS_PORT_NUMBER, *PNDIS_PORT_NUMBER;

typedef struct _NDIS_OBJECT_HEADER {
    UCHAR Type;
    UCHAR Revision;
    USHORT Size;
} NDIS_OBJECT_HEADER, *PNDIS_OBJECT_HEADER;

#define NDIS_OBJECT_TYPE_DEFAULT 0x80
#define NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS 0x8E
#define NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_OFFLOAD_TCP_CHARACTERISTICS 0x8F

/* What MiniportSetOptions hands NdisSetOptionalHandlers: a header naming the table. */
typedef struct _NDIS_DRIVER_OPTIONAL_HANDLERS {
    NDIS_OBJECT_HEADER Header;
} NDIS_DRIVER_OPTIONAL_HANDLERS, *PNDIS_DRIVER_OPTIONAL_HANDLERS;

/* Provided by the suite's harness, as NDIS provides it to a miniport driver. */
NDIS_API NDIS_STATUS NdisSetOptionalHandlers(
    IN NDIS_HANDLE NdisHandle, IN PNDIS_DRIVER_OPTIONAL_HANDLERS OptionalHandlers);

/* The status values of TCP chimney offload (NdisStatus of pytest_offload). */
#define NDIS_STATUS_SUCCESS ((NDIS_STATUS)0x00000000L)
#define NDIS_STATUS_PENDING ((NDIS_STATUS)0x00000103L)
#define NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS ((NDIS_STATUS)0x40020004L)
#define NDIS_STATUS_FAILURE ((NDIS_STATUS)0xC0000001L)
#define NDIS_STATUS_RESOURCES ((NDIS_STATUS)0xC000009AL)
#define NDIS_STATUS_OFFLOAD_TCP_ENTRIES ((NDIS_STATUS)0xC0231004L)
#define NDIS_STATUS_OFFLOAD_PATH_ENTRIES ((NDIS_STATUS)0xC0231005L)
#define NDIS_STATUS_OFFLOAD_NEIGHBOR_ENTRIES ((NDIS_STATUS)0xC0231006L)
#define NDIS_STATUS_OFFLOAD_IP_ADDRESS_ENTRIES ((NDIS_STATUS)0xC0231007L)
#define NDIS_STATUS_OFFLOAD_HW_ADDRESS_ENTRIES ((NDIS_STATUS)0xC0231008L)
#define NDIS_STATUS_OFFLOAD_VLAN_ENTRIES ((NDIS_STATUS)0xC0231009L)
#define NDIS_STATUS_OFFLOAD_TCP_XMIT_BUFFER ((NDIS_STATUS)0xC023100AL)
#define NDIS_STATUS_OFFLOAD_TCP_RCV_BUFFER ((NDIS_STATUS)0xC023100BL)
#define NDIS_STATUS_OFFLOAD_TCP_RCV_WINDOW ((NDIS_STATUS)0xC023100CL)
#define NDIS_STATUS_OFFLOAD_VLAN_MISMATCH ((NDIS_STATUS)0xC023100DL)
#define NDIS_STATUS_OFFLOAD_CONNECTION_REJECTED ((NDIS_STATUS)0xC0231012L)
/* Send data handed back by a terminate (TRM-SEND-DATA-ONCE, TRM-ABORTED-SENDS). */
#define NDIS_STATUS_UPLOAD_IN_PROGRESS ((NDIS_STATUS)0xC0231001L)
#define NDIS_STATUS_REQUEST_ABORTED ((NDIS_STATUS)0xC001000CL)
/* Status indications and upload statuses of chimney offload (NdisStatus). */
#define NDIS_STATUS_OFFLOAD_PAUSE ((NDIS_STATUS)0x40020001L)
#define NDIS_STATUS_UPLOAD_ALL ((NDIS_STATUS)0x40020002L)
#define NDIS_STATUS_OFFLOAD_RESUME ((NDIS_STATUS)0x40020003L)
#define NDIS_STATUS_OFFLOAD_STATE_INVALID ((NDIS_STATUS)0x40020005L)
#define NDIS_STATUS_TCP_CONNECTION_OFFLOAD_HARDWARE_CAPABILITIES ((NDIS_STATUS)0x4002000BL)
#define NDIS_STATUS_REQUEST_UPLOAD ((NDIS_STATUS)0xC0231002L)
#define NDIS_STATUS_UPLOAD_REQUESTED ((NDIS_STATUS)0xC0231003L)
#define NDIS_STATUS_OFFLOAD_DATA_NOT_ACCEPTED ((NDIS_STATUS)0xC023100EL)
#define NDIS_STATUS_OFFLOAD_POLICY ((NDIS_STATUS)0xC023100FL)
#define NDIS_STATUS_OFFLOAD_DATA_PARTIALLY_ACCEPTED ((NDIS_STATUS)0xC0231010L)
#define NDIS_STATUS_OFFLOAD_REQUEST_RESET ((NDIS_STATUS)0xC0231011L)
#define NDIS_STATUS_OFFLOAD_PATH_REJECTED ((NDIS_STATUS)0xC0231013L)
/* No public header gives OFFLOAD_PATH_MTU a value: the suite's reading (rules.md 2). */
#define NDIS_STATUS_OFFLOAD_PATH_MTU ((NDIS_STATUS)0xE0231014L)

/*
 * A minimal NET_BUFFER_LIST: what offload code of the initiate path touches. Reach its
 * fields through the accessor macros, as driver code does; its layout is not NDIS's.
 */
typedef struct _NET_BUFFER_LIST {
    struct _NET_BUFFER_LIST *Next;
    PVOID FirstNetBuffer;
    NDIS_STATUS Status;
    ULONG DataLength; /* the suite's: bytes of send data this NBL stands for */
    PUCHAR Data;      /* the suite's: those bytes */
} NET_BUFFER_LIST, *PNET_BUFFER_LIST;

#define NET_BUFFER_LIST_NEXT_NBL(_NBL) ((_NBL)->Next)
#define NET_BUFFER_LIST_STATUS(_NBL) ((_NBL)->Status)

#endif /* PYTEST_OFFLOAD_NDIS_H */
