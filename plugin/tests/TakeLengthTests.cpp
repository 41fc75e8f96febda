#include "TakeLength.h"

#include <catch2/catch.hpp>

using namespace mgb;

TEST_CASE ("quarter notes per bar follow the denominator", "[length]")
{
    CHECK (quarterNotesPerBar (4, 4) == 4.0);
    CHECK (quarterNotesPerBar (6, 8) == 3.0);
    CHECK (quarterNotesPerBar (7, 8) == 3.5);
    CHECK (quarterNotesPerBar (3, 2) == 6.0);
}

TEST_CASE ("take lengths match the engine's, to the sample", "[length]")
{
    // docs/protocol.md's own figures.
    CHECK (takeSamples (8, 92, 7, 8, 32000) == 584348);
    CHECK (takeSamples (8, 120, 4, 4, 32000) == 512000);
    CHECK (takeSamples (8, 120, 4, 4, 44100) == 705600);
    CHECK (takeSamples (4, 120, 4, 4, 48000) == 384000);
    // 2 bars of 7/8 at 128 bpm: 7 quarter notes = 3.28125 s.
    CHECK (takeSeconds (2, 128, 7, 8) == Approx (3.28125));
    CHECK (takeSamples (2, 128, 7, 8, 48000) == 157500);
    CHECK (takeSamples (2, 128, 7, 8, 44100) == 144703);  // 144703.125 rounded
}

TEST_CASE ("bar starts", "[length]")
{
    CHECK (barStartSample (1, 128, 7, 8, 48000) == 0);
    CHECK (barStartSample (2, 128, 7, 8, 48000) == 78750);
    CHECK (barStartSample (3, 128, 4, 4, 48000) == 180000);
}
