"""Every error the product raises on purpose, with the stable code clients see.

One root, :class:`BridgeError`; each child carries ``code``, the string that
travels in an ``/musicgen/error`` reply and that clients may switch on.  Codes
never change meaning once released.  The engine raises the engine-side
children; the bridge adds the protocol-side ones (it imports this module; the
engine never imports the bridge).
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every expected failure.  ``str(err)`` is a sentence for a producer."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- request shape (raised by the bridge while validating) -------------------


class InvalidRequest(BridgeError):
    """A request the engine cannot accept as sent; nothing was queued."""

    code = "invalid_request"


class UnknownAddress(InvalidRequest):
    code = "unknown_address"


class MissingArgument(InvalidRequest):
    code = "missing_argument"


class UnknownArgument(InvalidRequest):
    code = "unknown_argument"


class WrongType(InvalidRequest):
    code = "wrong_type"


class OutOfRange(InvalidRequest):
    code = "out_of_range"


class InvalidValue(InvalidRequest):
    """The right type but not a usable value: an empty prompt, "4-4" for a time signature."""

    code = "invalid_value"


class BadPath(InvalidRequest):
    """A path argument that is relative, missing, or not what it must be."""

    code = "bad_path"


class BadFile(InvalidRequest):
    """A named input file (audio, MIDI) exists but cannot be used: not audio, unreadable, big."""

    code = "bad_file"


class Unsupported(InvalidRequest):
    """The checkpoint cannot do what was asked (melody of a text-only model, ...)."""

    code = "unsupported"


class Unauthorized(InvalidRequest):
    """The engine listens beyond loopback and the request lacks its shared token."""

    code = "unauthorized"


class DuplicateId(InvalidRequest):
    """A job with this id is queued or running; the reply carries an empty id."""

    code = "duplicate_id"


class UnknownJob(InvalidRequest):
    code = "unknown_job"


class TooLate(BridgeError):
    """A cancel that came once the job's decoding had ended: its take will arrive."""

    code = "too_late"


class Busy(BridgeError):
    """The queue is full; try again when a take has finished."""

    code = "busy"


class ShuttingDown(BridgeError):
    code = "shutting_down"


# -- engine side --------------------------------------------------------------


class ModelNotAvailable(BridgeError):
    """The checkpoint is neither in the Hugging Face cache nor a local folder."""

    code = "model_not_available"


class ModelLoadFailed(BridgeError):
    """The checkpoint was found but could not be loaded (corrupt, wrong kind, OOM)."""

    code = "model_load_failed"


class GenerationFailed(BridgeError):
    code = "generation_failed"


class Cancelled(BridgeError):
    """The job was cancelled by a client (or by shutdown) before it finished."""

    code = "cancelled"


class WriteFailed(BridgeError):
    """The take was generated but could not be written (disk full, permissions)."""

    code = "write_failed"
