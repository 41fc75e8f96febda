// Where the playing take is, from the host's playhead: the take starts on its
// anchor bar and plays once or loops.  Plain C++ so the tests can drive it with
// any tempo and metre.
#pragma once

#include <cstdint>

namespace mgb
{

/** What the audio thread read from the host's playhead for one block. */
struct HostPosition
{
    bool hasPpq = false;
    double ppq = 0.0;            // quarter notes from the timeline's start
    bool hasSamples = false;
    int64_t timeInSamples = 0;
    double bpm = 120.0;
    int numerator = 4, denominator = 4;
    bool playing = false;
};

/**
    Offset, in host samples, of the block's first sample from the start of bar `anchorBar`
    (1-based), at the host's tempo and metre.  From ppq when the host gives it (robust to
    where the host counts samples from), else from its sample position.
*/
int64_t offsetFromAnchor (const HostPosition& pos, int anchorBar, double sampleRate);

/** The take's sample at `offset` samples past its anchor: -1 for silence (before it, or after it when not looping). */
int64_t takeIndexAt (int64_t offset, int64_t takeLength, bool loop);

/** The 1-based bar holding ppq position `ppq` (constant metre). */
int barAt (double ppq, int numerator, int denominator);

} // namespace mgb
