"""How much memory the engine's process holds: its resident set, and its GPU's figures.

:func:`memory_use` is what ``status`` reports (through
:meth:`engine.api.Engine.memory`).  It never raises and never starts anything:
a figure this platform cannot give is None, and CUDA is asked only when the
process already uses it (asking would otherwise create a CUDA context, some
hundreds of MiB, just to report on it).

The process's resident set (RSS, bytes) is read from ``/proc/self/statm`` on
Linux, from ``proc_pidinfo`` (libproc) on macOS and from
``GetProcessMemoryInfo`` (its working set) on Windows, the calls psutil makes,
without depending on psutil.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryUse:
    """Memory figures in bytes; None where this machine cannot say.

    Attributes:
        rss_bytes: the process's resident set (all of it: Python, torch, the
            weights of checkpoints on the CPU).
        gpu_allocated_bytes: bytes torch's caching allocator has handed out
            as tensors on the CUDA device (the allocator reserves a little more).
        gpu_free_bytes: bytes free on that device, for every process
            (``torch.cuda.mem_get_info``).
        gpu_device: that device, e.g. "cuda:0" ("" when none).
    """

    rss_bytes: int | None = None
    gpu_allocated_bytes: int | None = None
    gpu_free_bytes: int | None = None
    gpu_device: str = ""


def memory_use(cuda_device: str | None = None) -> MemoryUse:
    """The process's RSS and, when it uses CUDA, the GPU's allocated and free bytes.

    Args:
        cuda_device: the CUDA device a resident checkpoint is on ("cuda",
            "cuda:1"); None: torch's current device, if CUDA is initialised.
    """
    allocated = free = None
    device = ""
    torch = sys.modules.get("torch")  # not imported: no tensor anywhere, so no CUDA
    try:
        if torch is not None and (cuda_device is not None or torch.cuda.is_initialized()):
            index = torch.device(cuda_device or "cuda").index
            index = torch.cuda.current_device() if index is None else index
            allocated = int(torch.cuda.memory_allocated(index))
            free = int(torch.cuda.mem_get_info(index)[0])
            device = f"cuda:{index}"
    except Exception:  # a status figure must never fail the status
        log.debug("could not read the GPU's memory", exc_info=True)
        allocated = free = None
        device = ""
    return MemoryUse(process_rss_bytes(), allocated, free, device)


def process_rss_bytes() -> int | None:
    """This process's resident set in bytes, or None where it cannot be read."""
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/self/statm", encoding="ascii") as statm:
                resident_pages = int(statm.read().split()[1])
            return resident_pages * os.sysconf("SC_PAGE_SIZE")
        if sys.platform == "darwin":
            return _darwin_rss()
        if sys.platform == "win32":
            return _windows_rss()
    except Exception:
        log.debug("could not read the process's resident memory", exc_info=True)
    return None


def _darwin_rss() -> int | None:
    """pti_resident_size of proc_pidinfo(PROC_PIDTASKINFO), as psutil reads it."""

    class ProcTaskInfo(ctypes.Structure):
        _fields_ = [
            ("pti_virtual_size", ctypes.c_uint64),
            ("pti_resident_size", ctypes.c_uint64),
            ("pti_rest", ctypes.c_uint64 * 4),  # user/system times
            ("pti_counts", ctypes.c_int32 * 12),  # policy, faults, ..., priority
        ]

    libproc = ctypes.CDLL("/usr/lib/libproc.dylib")
    libproc.proc_pidinfo.argtypes = [
        ctypes.c_int,  # pid
        ctypes.c_int,  # flavor
        ctypes.c_uint64,  # arg
        ctypes.c_void_p,  # buffer
        ctypes.c_int,  # buffersize
    ]
    libproc.proc_pidinfo.restype = ctypes.c_int
    info = ProcTaskInfo()
    size = ctypes.sizeof(info)
    proc_pidtaskinfo = 4  # <sys/proc_info.h>
    got = libproc.proc_pidinfo(os.getpid(), proc_pidtaskinfo, 0, ctypes.byref(info), size)
    return int(info.pti_resident_size) if got == size else None


def _windows_rss() -> int | None:
    """WorkingSetSize of GetProcessMemoryInfo, as psutil reads it."""
    from ctypes import wintypes

    class ProcessMemoryCounters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    psapi = ctypes.WinDLL("psapi")  # type: ignore[attr-defined]
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    psapi.GetProcessMemoryInfo.argtypes = [
        wintypes.HANDLE,
        ctypes.POINTER(ProcessMemoryCounters),
        wintypes.DWORD,
    ]
    psapi.GetProcessMemoryInfo.restype = wintypes.BOOL
    counters = ProcessMemoryCounters()
    counters.cb = ctypes.sizeof(counters)
    process = kernel32.GetCurrentProcess()  # a pseudo-handle: nothing to close
    if not psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):
        return None
    return int(counters.WorkingSetSize)
