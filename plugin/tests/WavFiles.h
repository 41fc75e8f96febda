// Test WAVs written by hand, as the engine writes them (PCM 16 or 24-bit, little-endian).
#pragma once

#include <juce_core/juce_core.h>

#include <vector>

namespace mgb_test
{
/** Writes `frames` (interleaved, -1..1) as a WAV with a header stating exactly their length. */
inline void writeWav (const juce::File& file, const std::vector<float>& interleaved, int channels, int rate, int bits)
{
    juce::MemoryOutputStream out;
    const int bytes = bits / 8;
    const auto dataSize = (juce::uint32) (interleaved.size() * (size_t) bytes);
    out.write ("RIFF", 4);
    out.writeInt ((int) (36 + dataSize));
    out.write ("WAVEfmt ", 8);
    out.writeInt (16);
    out.writeShort (1);
    out.writeShort ((short) channels);
    out.writeInt (rate);
    out.writeInt (rate * channels * bytes);
    out.writeShort ((short) (channels * bytes));
    out.writeShort ((short) bits);
    out.write ("data", 4);
    out.writeInt ((int) dataSize);
    for (float v : interleaved)
    {
        const double full = bits == 16 ? 32767.0 : 8388607.0;
        const auto q = (int) std::lround (juce::jlimit (-1.0, 1.0, (double) v) * full);
        if (bits == 16)
            out.writeShort ((short) q);
        else
        {
            out.writeByte ((char) (q & 0xff));
            out.writeByte ((char) ((q >> 8) & 0xff));
            out.writeByte ((char) ((q >> 16) & 0xff));
        }
    }
    file.replaceWithData (out.getData(), out.getDataSize());
}

/** The value a reader gets back for `v` written at `bits`. */
inline float quantised (float v, int bits)
{
    const double full = bits == 16 ? 32767.0 : 8388607.0;
    const auto q = std::lround (juce::jlimit (-1.0, 1.0, (double) v) * full);
    return (float) ((double) q / (bits == 16 ? 32768.0 : 8388608.0));
}
}
