"""Playing a take on this machine's speakers while it renders (``generate --play``).

The engine names a growing WAV in ``/musicgen/preview`` replies (preview 1);
:class:`PreviewPlayer` reads what is new in it at each reply (opening the file
anew, reading only up to the data length its header gives) and plays it
through a sounddevice output stream.  It starts once the rate the audio comes
at projects no underrun (:func:`audio_needed`): on an engine faster than real
time after the first piece, on a slower one once enough audio is buffered
that the rest arrives before playback reaches it.

sounddevice needs PortAudio, so it is imported only when a stream opens
(the CLI checks it before the request); tests pass their own ``open_stream``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Played audio kept ahead of the projection, seconds (the engine's pace wobbles).
START_MARGIN_S = 0.5
DRAIN_SLACK_S = 2.0  # how long past the buffered audio finish() waits for the stream

#: Opens an output stream: (rate Hz, channels, callback(outdata [frames, C], frames)).
StreamOpener = Callable[[int, int, Callable[[Any, int], None]], Any]


def audio_needed(
    rate: float, total_s: float, piece_s: float, margin_s: float = START_MARGIN_S
) -> float:
    """Seconds of audio to hold before starting, so that playback never runs dry.

    Playing from now, playback is at ``x`` s after ``x`` s; the audio made is
    ``a + rate * x`` (less one piece: it comes in pieces).  It stays ahead to
    the end of the take when ``a >= total * (1 - rate) + piece``.  An engine
    at or above real time needs only the first piece.

    Args:
        rate: audio seconds made per wall-clock second (> 0).
        total_s: the take's length, seconds.
        piece_s: the audio one preview reply adds, seconds.
        margin_s: kept on top.

    Returns:
        Seconds of audio, at most ``total_s``.
    """
    behind = max(0.0, total_s * (1.0 - rate))
    return min(total_s, behind + piece_s + margin_s)


def take_seconds(fields: dict[str, Any], default_s: float) -> float:
    """The take's length a generate request asks for (seconds, or bars at bpm)."""
    from engine.timing import TimeSignature, bars_to_seconds

    if fields.get("seconds") is not None:
        return float(fields["seconds"])
    if fields.get("bars") is not None and fields.get("bpm"):
        timesig = TimeSignature.parse(str(fields.get("timesig") or "4/4"))
        return bars_to_seconds(float(fields["bars"]), float(fields["bpm"]), timesig)
    return default_s


class PreviewPlayer:
    """Plays take 1's preview as it grows; :meth:`finish` plays out the rest.

    Args:
        total_s: the take's length in seconds (for the start projection).
        open_stream: opens the output stream (default: sounddevice's).
        say: prints a line for the user (stderr in the CLI).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        total_s: float,
        open_stream: StreamOpener | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_s = total_s
        self.open_stream = open_stream or _sounddevice_stream
        self.say = say
        self.clock = clock
        self.rate_hz = 0
        self.channels = 0
        self.chunks: list[np.ndarray] = []  # [frames, C] not yet played
        self.read_frames = 0  # frames taken from the file so far
        self.played_frames = 0
        self.underruns = 0
        self.stream: Any = None
        self.said_wait = False
        self.error: Exception | None = None  # the stream could not open; finish() raises it
        self.points: list[tuple[float, float]] = []  # (clock, seconds ready)
        self.lock = threading.Lock()

    # -- the replies ----------------------------------------------------------

    def on_preview(self, path: str, seconds: float, take: int, count: int) -> None:
        """A ``/musicgen/preview`` reply: read what is new, start when it is safe."""
        if take != 1 or self.error is not None:
            return
        self.points.append((self.clock(), seconds))
        self._read(path)
        if self.stream is None:
            self._maybe_start()

    def _read(self, path: str) -> None:
        import soundfile

        try:
            with soundfile.SoundFile(path) as wav:  # the header says how much is there
                if not self.rate_hz:
                    self.rate_hz, self.channels = wav.samplerate, wav.channels
                if wav.frames <= self.read_frames:
                    return
                wav.seek(self.read_frames)
                new = wav.read(wav.frames - self.read_frames, dtype="float32", always_2d=True)
        except (OSError, RuntimeError):  # removed: the take ended; finish() plays the rest
            return
        self.read_frames += new.shape[0]
        with self.lock:
            self.chunks.append(new)

    def rate(self) -> float | None:
        """Audio seconds made per wall second since the first reply (None: not known yet)."""
        if len(self.points) < 2 or self.points[-1][0] <= self.points[0][0]:
            return None
        (t0, s0), (t1, s1) = self.points[0], self.points[-1]
        return max((s1 - s0) / (t1 - t0), 1e-6)

    def _maybe_start(self) -> None:
        rate = self.rate()
        ready = self.read_frames / self.rate_hz if self.rate_hz else 0.0
        if rate is None:
            return
        piece = max(
            (b[1] - a[1] for a, b in zip(self.points, self.points[1:], strict=False)), default=1.0
        )
        need = audio_needed(rate, self.total_s, piece)
        if ready >= need:
            self._start()
        elif not self.said_wait and rate < 1.0:
            self.said_wait = True
            self.say(
                f"this machine makes audio at {rate:.2f}x real time: playing once "
                f"{need:.1f} s of the {self.total_s:.1f} s take is ready, so it never stops"
            )

    def _start(self) -> None:
        if self.stream is not None or not self.rate_hz or self.error is not None:
            return
        try:
            stream = self.open_stream(self.rate_hz, self.channels, self._callback)
            stream.start()
        except Exception as exc:  # no output device, device busy: said after the take
            self.error = exc
            return
        self.stream = stream

    # -- the audio thread -----------------------------------------------------

    def _callback(self, out: Any, frames: int) -> None:
        """Fill ``out`` [frames, C] from the buffered audio; silence where none is left."""
        filled = 0
        with self.lock:
            while filled < frames and self.chunks:
                chunk = self.chunks[0]
                n = min(frames - filled, chunk.shape[0])
                out[filled : filled + n] = chunk[:n]
                filled += n
                if n == chunk.shape[0]:
                    self.chunks.pop(0)
                else:
                    self.chunks[0] = chunk[n:]
        if filled < frames:
            out[filled:] = 0
            if self.read_frames < self.total_s * self.rate_hz - 1:
                self.underruns += 1
        self.played_frames += filled

    # -- the end ----------------------------------------------------------------

    def finish(self, final_path: str | None) -> bool:
        """The take is done: play what is left (from the final take past the preview), wait.

        Returns:
            Whether anything was played (False: no preview came and no take to play).
        """
        if final_path is not None:
            self._rest_from(final_path)
        if not self.rate_hz:
            return False
        self._start()
        if self.error is not None:
            raise self.error
        left = self.buffered_s()
        deadline = self.clock() + left + DRAIN_SLACK_S
        try:
            while self.buffered_s() > 0 and self.clock() < deadline:
                time.sleep(0.05)
            time.sleep(0.1)  # the device's own buffer
        finally:
            self.stop()
        return True

    def stop(self) -> None:
        """Stop playing now (the take failed, or the user interrupted)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def _rest_from(self, path: str) -> None:
        """Append the final take past what the preview gave (all of it with no preview)."""
        import soundfile

        with soundfile.SoundFile(path) as wav:
            if self.rate_hz and (wav.samplerate, wav.channels) != (self.rate_hz, self.channels):
                return
            self.rate_hz, self.channels = wav.samplerate, wav.channels
            if wav.frames <= self.read_frames:
                return
            wav.seek(self.read_frames)
            rest = wav.read(wav.frames - self.read_frames, dtype="float32", always_2d=True)
        self.read_frames += rest.shape[0]
        with self.lock:
            self.chunks.append(rest)

    def buffered_s(self) -> float:
        with self.lock:
            frames = sum(chunk.shape[0] for chunk in self.chunks)
        return frames / self.rate_hz if self.rate_hz else 0.0


def _sounddevice_stream(rate: int, channels: int, fill: Callable[[Any, int], None]) -> Any:
    import sounddevice  # checked by the CLI before the request

    def callback(outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        fill(outdata, frames)

    return sounddevice.OutputStream(
        samplerate=rate, channels=channels, dtype="float32", callback=callback
    )
