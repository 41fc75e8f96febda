// MIDI notes captured from the host become the `melody_notes` string
// ("pitch start length velocity" per note, in beats = quarter notes) that
// melody checkpoints take.  Plain C++: the processor pushes events from its
// audio thread into a FIFO; the message thread feeds them to a NoteAssembler.
#pragma once

#include <string>
#include <vector>

namespace mgb
{

/** A note-on or note-off at a host position in quarter notes. */
struct NoteEvent
{
    double beat = 0.0;  // host ppq position
    int pitch = 60;     // 0-127
    int velocity = 0;   // 1-127 for a note-on; 0 for a note-off
    bool on = false;
};

struct Note
{
    int pitch = 60;
    double start = 0.0;   // beats from the clip's start
    double length = 0.0;  // beats, > 0
    int velocity = 100;
};

class NoteAssembler
{
public:
    static constexpr size_t maxNotes = 4096;  // the engine's limit

    /** Starts a capture; the clip starts at the bar holding the first note (bars of `quarterNotesPerBar`). */
    void start (double quarterNotesPerBar);
    void add (const NoteEvent& e);
    /** Ends the capture at `beat`: notes still held end there. */
    void stop (double beat);

    const std::vector<Note>& notes() const { return done; }
    size_t dropped() const { return droppedCount; }
    /** The notes as the engine's melody_notes string; empty when none. */
    std::string melodyNotes() const;

private:
    struct Held { bool on = false; double start = 0.0; int velocity = 0; };
    void close (int pitch, double beat);

    double barLength = 4.0;
    bool haveOrigin = false;
    double origin = 0.0;
    Held held[128] {};
    std::vector<Note> done;
    size_t droppedCount = 0;
};

/** A number in beats as the engine reads it: up to 6 decimals, trailing zeros trimmed. */
std::string formatBeats (double beats);

} // namespace mgb
