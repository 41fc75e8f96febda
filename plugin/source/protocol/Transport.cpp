#include "Transport.h"

#include "TakeLength.h"

#include <cmath>

namespace mgb
{

int64_t offsetFromAnchor (const HostPosition& pos, int anchorBar, double sampleRate)
{
    const double anchorQuarterNotes = (anchorBar - 1) * quarterNotesPerBar (pos.numerator, pos.denominator);
    if (pos.hasPpq && pos.bpm > 0.0)
        return (int64_t) std::llround ((pos.ppq - anchorQuarterNotes) * 60.0 / pos.bpm * sampleRate);
    if (pos.hasSamples && pos.bpm > 0.0)
        return pos.timeInSamples - barStartSample (anchorBar, pos.bpm, pos.numerator, pos.denominator, sampleRate);
    return 0;
}

int64_t takeIndexAt (int64_t offset, int64_t takeLength, bool loop)
{
    if (offset < 0 || takeLength <= 0)
        return -1;
    if (loop)
        return offset % takeLength;
    return offset < takeLength ? offset : -1;
}

int barAt (double ppq, int numerator, int denominator)
{
    const double perBar = quarterNotesPerBar (numerator, denominator);
    if (perBar <= 0.0)
        return 1;
    return (int) std::floor (ppq / perBar + 1e-9) + 1;
}

} // namespace mgb
