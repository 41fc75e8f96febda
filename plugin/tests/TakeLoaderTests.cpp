#include "TakeLoader.h"
#include "WavFiles.h"

#include <catch2/catch.hpp>

using namespace mgb;

namespace
{
    std::vector<float> ramp (int frames, int channels, int start = 0)
    {
        std::vector<float> v;
        for (int i = start; i < start + frames; ++i)
            for (int c = 0; c < channels; ++c)
                v.push_back ((float) std::sin (0.01 * i + c));
        return v;
    }
}

TEST_CASE ("a take is read whole, at its own rate and channels", "[loader]")
{
    juce::TemporaryFile tmp (".wav");
    mgb_test::writeWav (tmp.getFile(), ramp (1000, 2), 2, 48000, 24);
    juce::String error;
    auto take = readTake (tmp.getFile(), error);
    REQUIRE (take != nullptr);
    CHECK (error.isEmpty());
    CHECK (take->sampleRate == 48000.0);
    CHECK (take->length == 1000);
    CHECK (take->ready.load() == 1000);
    CHECK (take->audio.getNumChannels() == 2);
    const auto src = ramp (1000, 2);
    CHECK (take->audio.getSample (1, 500) == mgb_test::quantised (src[500 * 2 + 1], 24));
}

TEST_CASE ("a missing file is said in words", "[loader]")
{
    juce::String error;
    auto take = readTake (juce::File ("/nonexistent/take.wav"), error);
    CHECK (take == nullptr);
    CHECK (error.contains ("gone"));
    CHECK (error.contains ("/nonexistent/take.wav"));
}

TEST_CASE ("a growing WAV is re-read up to its header's length each time (contract B)", "[loader][preview]")
{
    juce::TemporaryFile tmp (".wav");
    const auto all = ramp (3000, 1);
    GrowingWavReader reader (tmp.getFile(), 3000.0 / 32000.0);
    juce::String error;

    std::vector<float> part (all.begin(), all.begin() + 1000);
    mgb_test::writeWav (tmp.getFile(), part, 1, 32000, 16);
    CHECK (reader.update (error) == 1000);
    REQUIRE (reader.buffer() != nullptr);
    CHECK (reader.buffer()->length == 3000);
    CHECK (reader.buffer()->audio.getSample (0, 999) == mgb_test::quantised (all[999], 16));

    // More appended, header rewritten; a few bytes of a half-written next frame past it are not read.
    part.assign (all.begin(), all.begin() + 2500);
    mgb_test::writeWav (tmp.getFile(), part, 1, 32000, 16);
    tmp.getFile().appendData ("\x01\x02\x03", 3);
    CHECK (reader.update (error) == 2500);
    CHECK (reader.buffer()->audio.getSample (0, 2499) == mgb_test::quantised (all[2499], 16));
    CHECK (reader.buffer()->audio.getSample (0, 1000) == mgb_test::quantised (all[1000], 16));
    CHECK (reader.buffer()->audio.getSample (0, 2500) == 0.0f);

    // The file gone (the take ended): an error in words, what was read stays.
    tmp.getFile().deleteFile();
    CHECK (reader.update (error) == -1);
    CHECK (error.isNotEmpty());
    CHECK (reader.buffer()->ready.load() == 2500);
}
