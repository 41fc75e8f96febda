"""Checking and capturing the prepared decode steps after the engine says it is ready.

Issue 28 measured 7.2 s of graph capture in a 19.5 s load on an H200: with
``serve --graph-capture background`` the engine answers requests before that,
and :class:`BackgroundCapture` prepares the steps of
:mod:`engine.decoders.step_graph` on a thread of its own, in two passes:

1. each row count's static step is checked against the eager step (a short
   probe run, :func:`~engine.decoders.step_checks.check_run`); from then on runs
   of that shape take it, eagerly;
2. each row count's step is captured as a CUDA graph and checked again
   (:func:`~engine.decoders.step_checks.check_replay`, then the probe run);
   from then on its runs replay the graph.  One whose capture or check fails
   is left out with a warning, as at load: its runs decode with the eager loop.

The largest row count goes first in both passes (the smaller captures then fit
in the pool it reserved).  Each row count is checked and captured with the
steps' one lock held, the lock every run holds while it uses the shared
buffers: a run never sees a half-captured step, and a run that arrives during
a capture finds the lock held and decodes with the eager loop, which computes
the same logits up to rounding.  On CUDA the capture runs in ``thread_local``
error mode, so that the eager runs beside it may use the GPU.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class BackgroundCapture:
    """The thread that checks and captures a :class:`StepGraphs`' steps (see the module)."""

    def __init__(
        self, loaded: Any, graphs: Any, lock: Any, pool: Any, capturer: Any, fused: bool = False
    ) -> None:
        self.loaded = loaded
        self.graphs = graphs
        self.capturer = capturer  # None: check the static steps only (nothing to capture)
        self.fused = fused  # the step in Triton kernels where it agrees (step_graph._prepare)
        self._lock = lock
        self._pool = pool
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="graph-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the row count in hand and wait for the thread (at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the thread has ended (or was stopped before it started)."""
        if self._thread is None:
            return self._stop.is_set()
        return self._done.wait(timeout)

    def _run(self) -> None:
        import torch

        from engine.decoders.step_checks import TOLERANCE, check_run
        from engine.decoders.step_graph import _left_out, _prepare

        start = time.perf_counter()
        try:
            with torch.inference_mode():  # the buffers are inference tensors (thread-local mode)
                for rows in sorted(self.graphs.runners, reverse=True):
                    if self._stop.is_set():
                        return
                    runner = self.graphs.runners[rows]
                    dtype = str(runner.stack.dtype).removeprefix("torch.")
                    with self._lock:
                        try:
                            check_run(self.loaded, runner, TOLERANCE.get(dtype, 1e-2))
                        except Exception as exc:
                            _left_out(rows, exc)
                            self.graphs.drop(rows)
                            continue
                        runner.ready = True
                checked = time.perf_counter() - start
                log.info(
                    "static steps for rows %s checked in the background in %.1f s",
                    ", ".join(map(str, sorted(self.graphs.runners))),
                    checked,
                )
                if self.capturer is None and not self.fused:
                    return
                for rows in sorted(self.graphs.runners, reverse=True):
                    if self._stop.is_set():
                        return
                    runner = self.graphs.runners[rows]
                    with self._lock:
                        try:
                            _prepare(self.loaded, runner, self._pool, self.capturer, self.fused)
                        except Exception as exc:
                            _left_out(rows, exc)
                            self.graphs.drop(rows)
                self._done.set()  # before describe(), which says whether it is still going
                log.info(
                    "%s; captured in the background in %.1f s",
                    self.graphs.describe(),
                    time.perf_counter() - start - checked,
                )
        except Exception:  # never let the thread die silently: runs go on eagerly
            log.exception("background graph capture failed: runs decode eagerly")
        finally:
            self._done.set()
