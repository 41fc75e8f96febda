#include "MelodyNotes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mgb
{

void NoteAssembler::start (double quarterNotesPerBar)
{
    barLength = quarterNotesPerBar > 0.0 ? quarterNotesPerBar : 4.0;
    haveOrigin = false;
    origin = 0.0;
    for (auto& h : held)
        h = {};
    done.clear();
    droppedCount = 0;
}

void NoteAssembler::add (const NoteEvent& e)
{
    if (e.pitch < 0 || e.pitch > 127)
        return;
    if (e.on && e.velocity > 0)
    {
        if (! haveOrigin)
        {
            // The clip starts on the bar line before the first note, so the melody
            // keeps its place in the bar (a pickup stays a pickup).
            origin = std::floor (e.beat / barLength + 1e-9) * barLength;
            haveOrigin = true;
        }
        close (e.pitch, e.beat);  // a repeated note-on ends the one held
        held[e.pitch] = { true, e.beat, std::min (e.velocity, 127) };
    }
    else
    {
        close (e.pitch, e.beat);
    }
}

void NoteAssembler::stop (double beat)
{
    for (int p = 0; p < 128; ++p)
        close (p, beat);
    std::stable_sort (done.begin(), done.end(), [] (const Note& a, const Note& b) { return a.start < b.start; });
}

void NoteAssembler::close (int pitch, double beat)
{
    auto& h = held[pitch];
    if (! h.on)
        return;
    h.on = false;
    const double length = beat - h.start;
    if (length <= 0.0)
    {
        ++droppedCount;  // a note with no length cannot be heard, nor sent (the engine wants > 0)
        return;
    }
    if (done.size() >= maxNotes)
    {
        ++droppedCount;
        return;
    }
    done.push_back ({ pitch, h.start - origin, length, h.velocity });
}

std::string formatBeats (double beats)
{
    char text[48];
    std::snprintf (text, sizeof (text), "%.6f", beats);
    std::string s (text);
    while (! s.empty() && s.back() == '0')
        s.pop_back();
    if (! s.empty() && s.back() == '.')
        s.pop_back();
    return s == "-0" ? "0" : s;
}

std::string NoteAssembler::melodyNotes() const
{
    std::string out;
    for (const auto& n : done)
    {
        if (! out.empty())
            out += ' ';
        out += std::to_string (n.pitch) + ' ' + formatBeats (n.start) + ' ' + formatBeats (n.length) + ' '
             + std::to_string (n.velocity);
    }
    return out;
}

} // namespace mgb
