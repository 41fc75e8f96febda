// Take length arithmetic, as the engine does it (engine/timing.py): beats are
// quarter notes, a bar of n/d holds n * 4 / d of them (7/8: 3.5), and a take of
// `bars` bars at `bpm` lasts bars * quarterNotesPerBar * 60 / bpm seconds,
// rounded to the nearest sample.
#pragma once

#include <cstdint>

namespace mgb
{

double quarterNotesPerBar (int numerator, int denominator);
double takeSeconds (double bars, double bpm, int numerator, int denominator);
int64_t takeSamples (double bars, double bpm, int numerator, int denominator, double sampleRate);

/** Samples from the timeline's start to the start of bar `bar` (1-based), at a constant tempo and metre. */
int64_t barStartSample (int bar, double bpm, int numerator, int denominator, double sampleRate);

} // namespace mgb
