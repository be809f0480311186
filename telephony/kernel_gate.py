"""The admission gate's socket side: attach and detach the filter of ``admission``, count what the kernel dropped.

Linux only (``SO_ATTACH_FILTER``); elsewhere, or if the kernel refuses the
program, ``KernelGate.available`` is False and the service keeps its own
backlog policy alone.
"""
from __future__ import annotations

import ctypes
import logging
import os
import socket
import struct
import sys

from telephony.admission import SCAN_END, packed_program

log = logging.getLogger(__name__)
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
SO_DETACH_FILTER = getattr(socket, "SO_DETACH_FILTER", 27)
SCAN_ENDS = (SCAN_END, SCAN_END // 2, SCAN_END // 4)


class KernelGate:
    """Thins new REGISTERs out of one UDP socket: ``admit(share)`` attaches the filter for that share (~1 ms
    of kernel work), ``admit(1.0)`` detaches it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.attached = False
        self.available = sys.platform.startswith("linux")
        self._inode = os.fstat(sock.fileno()).st_ino
        self._proc = "/proc/net/udp6" if sock.family == socket.AF_INET6 else "/proc/net/udp"

    def admit(self, share: float) -> bool:
        """Admit ``share`` of the new REGISTERs; False (the gate is unavailable from then on, nothing left
        attached) if the kernel refuses the filter."""
        if share >= 1.0 or not self.available:
            self._detach()
            return share >= 1.0
        # the kernel charges a new filter to the socket before it frees the old one: detach first, or two
        # programs together can exceed net.core.optmem_max (the gate is open for the moment in between)
        self._detach()
        for scan_end in SCAN_ENDS:  # a smaller kernel budget gets a shorter search (longer REGISTERs pass)
            code = packed_program(share, scan_end)
            buffer = ctypes.create_string_buffer(code, len(code))  # lives until setsockopt returns
            fprog = struct.pack("@HP", len(code) // 8, ctypes.addressof(buffer))
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            except OSError as exc:
                error = exc
                continue
            self.attached = True
            return True
        self.available = False
        log.warning("SIP: the kernel refused the admission filter (%s); shedding in the service only", error)
        return False

    def _detach(self) -> None:
        if not self.attached:
            return
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
        except OSError as exc:  # nothing attached after all: the socket is open either way
            log.debug("SIP: detaching the admission filter: %s", exc)
        self.attached = False

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped on this socket so far (the gate's, and any for a full buffer), from
        ``/proc/net/udp``'s ``drops`` column; None where that cannot be read."""
        try:
            with open(self._proc, encoding="ascii") as table:
                next(table)
                for line in table:
                    fields = line.split()
                    if len(fields) >= 13 and fields[9] == str(self._inode):
                        return int(fields[-1])
        except (OSError, ValueError, StopIteration):
            return None
        return None
