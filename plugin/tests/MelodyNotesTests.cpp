#include "MelodyNotes.h"

#include <catch2/catch.hpp>

using namespace mgb;

namespace
{
    NoteEvent on (double beat, int pitch, int velocity = 100) { return { beat, pitch, velocity, true }; }
    NoteEvent off (double beat, int pitch) { return { beat, pitch, 0, false }; }
}

TEST_CASE ("notes become pitch start length velocity in beats from the first note's bar", "[melody]")
{
    NoteAssembler a;
    a.start (4.0);
    // Played in bar 3 (ppq 8..12): C, D, then a half-note E.
    a.add (on (8.0, 60));
    a.add (off (9.0, 60));
    a.add (on (9.0, 62, 90));
    a.add (off (10.0, 62));
    a.add (on (10.0, 64));
    a.add (off (12.0, 64));
    a.stop (16.0);
    CHECK (a.melodyNotes() == "60 0 1 100 62 1 1 90 64 2 2 100");
}

TEST_CASE ("a pickup keeps its place in the bar; held notes end at stop", "[melody]")
{
    NoteAssembler a;
    a.start (3.5);  // 7/8
    a.add (on (5.25, 67));
    a.add (on (6.0, 69, 80));
    a.add (off (6.5, 67));
    a.stop (7.0);  // 69 still held
    CHECK (a.melodyNotes() == "67 1.75 1.25 100 69 2.5 1 80");
}

TEST_CASE ("velocity 0 is a note-off; zero-length notes are dropped and counted", "[melody]")
{
    NoteAssembler a;
    a.start (4.0);
    a.add (on (0.0, 60));
    a.add (on (0.5, 60, 0));
    a.add (on (1.0, 61));
    a.add (off (1.0, 61));
    a.stop (2.0);
    CHECK (a.melodyNotes() == "60 0 0.5 100");
    CHECK (a.dropped() == 1);
}

TEST_CASE ("at most the engine's 4096 notes", "[melody]")
{
    NoteAssembler a;
    a.start (4.0);
    for (int i = 0; i < 5000; ++i)
    {
        a.add (on (i * 0.25, 60));
        a.add (off (i * 0.25 + 0.125, 60));
    }
    a.stop (5000.0);
    CHECK (a.notes().size() == NoteAssembler::maxNotes);
    CHECK (a.dropped() == 5000 - NoteAssembler::maxNotes);
}

TEST_CASE ("beats are written without float noise", "[melody]")
{
    CHECK (formatBeats (0.0) == "0");
    CHECK (formatBeats (1.5) == "1.5");
    CHECK (formatBeats (1.0 / 3.0) == "0.333333");
}
