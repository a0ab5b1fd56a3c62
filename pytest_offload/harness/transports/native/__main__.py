"""The child process of a native target: ``python -m pytest_offload.harness.transports.native
LIBRARY HARNESS``, started by the suite for ``--offload-target=native:LIBRARY``.

Loads the harness library and the vendor's library, then serves adapters of it over the
process protocol on stdio (docs/native.md). A library that cannot serve (it does not
load, lacks the entry points, was built with another layout, refuses to initialize)
makes the child say why on stderr, on a line starting ``offload:``, and exit with
status 3 before the handshake is answered: the suite shows that line as a usage error.
"""

from __future__ import annotations

import os
import sys

from pytest_offload.harness.transports._serve import serve
from pytest_offload.harness.transports.native._library import Library, LibraryError
from pytest_offload.harness.transports.native._target import NativeServer, start
from pytest_offload.model import CapabilityError

#: The exit status of a child whose library cannot serve as a target.
UNUSABLE = 3


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            "offload: usage: python -m pytest_offload.harness.transports.native LIBRARY HARNESS",
            file=sys.stderr,
        )
        return 2
    library_path, harness = argv
    # A crash in the vendor's code prints its C stack on stderr (the harness library's
    # handler; the suite quotes the tail in the INI-NO-RAISE finding).
    # stdout carries the protocol only: from here on, C's printf (fd 1) and print() go to
    # stderr, before the vendor library's constructors run.
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        library = Library(library_path, harness)
        factory = start(library)
        name = f"native:{os.path.basename(library_path)}"
        return serve(factory, name=name, stdout=protocol, server_class=NativeServer)
    except (LibraryError, CapabilityError) as exc:
        print(f"offload: {exc}", file=sys.stderr, flush=True)
        return UNUSABLE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
