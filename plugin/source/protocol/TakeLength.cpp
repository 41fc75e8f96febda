#include "TakeLength.h"

#include <cmath>

namespace mgb
{

double quarterNotesPerBar (int numerator, int denominator)
{
    return denominator > 0 ? numerator * 4.0 / denominator : 0.0;
}

double takeSeconds (double bars, double bpm, int numerator, int denominator)
{
    if (bpm <= 0.0)
        return 0.0;
    // One division at the end, as the engine's Fraction arithmetic does.
    return bars * numerator * 4.0 * 60.0 / (denominator * bpm);
}

int64_t takeSamples (double bars, double bpm, int numerator, int denominator, double sampleRate)
{
    // nearbyint under the default rounding mode rounds halves to even, as Python's round().
    return (int64_t) std::nearbyint (takeSeconds (bars, bpm, numerator, denominator) * sampleRate);
}

int64_t barStartSample (int bar, double bpm, int numerator, int denominator, double sampleRate)
{
    return takeSamples ((double) (bar - 1), bpm, numerator, denominator, sampleRate);
}

} // namespace mgb
