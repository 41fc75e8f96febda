// The real processor, driven as a host drives it: a playhead at 128 bpm in 7/8,
// blocks of 512, MIDI in.  Checks sample-exact playback from the anchor bar,
// MIDI capture, state, and that processBlock never allocates.
#include "AllocationCounter.h"
#include "ProcessorFixture.h"
#include "WavFiles.h"
#include "protocol/TakeLength.h"

#include <catch2/catch.hpp>

using namespace mgb_test;

namespace
{
    std::vector<float> noise (int frames, int channels)
    {
        juce::Random r (42);
        std::vector<float> v ((size_t) (frames * channels));
        for (auto& x : v)
            x = r.nextFloat() * 1.6f - 0.8f;
        return v;
    }
}

TEST_CASE ("plays the take from its anchor bar, sample-exact, in 7/8 at 128 bpm", "[processor]")
{
    const double rate = 48000.0;
    const int block = 512;
    const auto takeLength = mgb::takeSamples (2, 128, 7, 8, rate);  // 157500
    juce::TemporaryFile tmp (".wav");
    const auto samples = noise ((int) takeLength, 1);
    mgb_test::writeWav (tmp.getFile(), samples, 1, (int) rate, 24);

    MusicGenBridgeProcessor p;
    FakeHead head;
    prepare (p, head, 128.0, 7, 8, rate, block);
    setParam (p, MusicGenBridgeProcessor::anchorId, 3);
    setParam (p, MusicGenBridgeProcessor::loopId, 0);
    loadProjectWithTake (p, tmp.getFile().getFullPathName());
    REQUIRE (waitForTake (p));

    const int64_t anchor = mgb::barStartSample (3, 128, 7, 8, rate);  // 157500
    const int64_t total = anchor + takeLength + 4 * block;
    juce::AudioBuffer<float> buffer (2, block);
    juce::MidiBuffer midi;
    int64_t mismatches = 0, nonzeroOutside = 0;
    for (int64_t start = 0; start < total; start += block)
    {
        head.at (start, rate);
        p.processBlock (buffer, midi);
        for (int i = 0; i < block; ++i)
        {
            const int64_t at = start + i - anchor;
            const float want = at >= 0 && at < takeLength ? mgb_test::quantised (samples[(size_t) at], 24) : 0.0f;
            for (int ch = 0; ch < 2; ++ch)
            {
                const float got = buffer.getSample (ch, i);
                if (got != want)
                    ++mismatches;
                if ((at < 0 || at >= takeLength) && got != 0.0f)
                    ++nonzeroOutside;
            }
        }
    }
    CHECK (mismatches == 0);
    CHECK (nonzeroOutside == 0);

    // The host reported its tempo and metre, and the editor's take tempo follows them.
    const auto h = p.hostInfo();
    CHECK (h.bpm == 128.0);
    CHECK (h.numerator == 7);
    CHECK (h.denominator == 8);
    double bpm; int n, d;
    p.takeTempo (bpm, n, d);
    CHECK (bpm == 128.0);
    CHECK (n == 7);
    CHECK (d == 8);
    p.setPlayHead (nullptr);
}

TEST_CASE ("looped: the take repeats every take length from the anchor", "[processor]")
{
    const double rate = 44100.0;
    juce::TemporaryFile tmp (".wav");
    const auto samples = noise (1000, 2);
    mgb_test::writeWav (tmp.getFile(), samples, 2, (int) rate, 24);
    MusicGenBridgeProcessor p;
    FakeHead head;
    prepare (p, head, 120.0, 4, 4, rate, 256);
    setParam (p, MusicGenBridgeProcessor::loopId, 1);
    loadProjectWithTake (p, tmp.getFile().getFullPathName());
    REQUIRE (waitForTake (p));
    juce::AudioBuffer<float> buffer (2, 256);
    juce::MidiBuffer midi;
    head.at (2500, rate);  // 2.5 loops in
    p.processBlock (buffer, midi);
    CHECK (buffer.getSample (0, 0) == mgb_test::quantised (samples[500 * 2], 24));
    CHECK (buffer.getSample (1, 0) == mgb_test::quantised (samples[500 * 2 + 1], 24));
    p.setPlayHead (nullptr);
}

TEST_CASE ("a take whose file is gone is said in words on restore, and kept", "[processor][state]")
{
    MusicGenBridgeProcessor p;
    loadProjectWithTake (p, "/nonexistent/folder/take.wav");
    CHECK (p.noticeLine().contains ("/nonexistent/folder/take.wav"));
    CHECK (p.noticeLine().contains ("not on this machine"));
    REQUIRE (p.settings.takes.size() == 1);
    CHECK (p.settings.takes[0].missing);

    juce::MemoryBlock saved;
    p.getStateInformation (saved);
    MusicGenBridgeProcessor q;
    q.setStateInformation (saved.getData(), (int) saved.getSize());
    REQUIRE (q.settings.takes.size() == 1);
    CHECK (q.settings.takes[0].path == "/nonexistent/folder/take.wav");
    CHECK (q.settings.prompt == "test take");
}

TEST_CASE ("MIDI notes played while Capture is on become melody_notes in beats", "[processor][melody]")
{
    const double rate = 48000.0;
    const int block = 480;  // 10 ms
    MusicGenBridgeProcessor p;
    FakeHead head;
    prepare (p, head, 120.0, 4, 4, rate, block);  // a beat = 0.5 s = 24000 samples = 50 blocks
    setParam (p, MusicGenBridgeProcessor::captureId, 1);
    p.tick();

    juce::AudioBuffer<float> buffer (2, block);
    // Bar 2 (beat 4): C for one beat, then E for two, the E's note-on 240 samples (a quarter block) in.
    auto playAt = [&] (int64_t sample, juce::MidiMessage m, int offset)
    {
        juce::MidiBuffer midi;
        midi.addEvent (m, offset);
        head.at (sample, rate);
        p.processBlock (buffer, midi);
    };
    playAt (4 * 24000, juce::MidiMessage::noteOn (1, 60, (juce::uint8) 100), 0);
    playAt (5 * 24000 - 240, juce::MidiMessage::noteOff (1, 60), 240);
    playAt (5 * 24000 - 240, juce::MidiMessage::noteOn (1, 64, (juce::uint8) 80), 240);
    playAt (7 * 24000, juce::MidiMessage::noteOff (1, 64), 0);
    p.tick();
    setParam (p, MusicGenBridgeProcessor::captureId, 0);
    p.tick();
    CHECK (p.capturedMelodyNotes() == "60 0 1 100 64 1 2 80");
    p.setPlayHead (nullptr);
}

TEST_CASE ("processBlock never allocates, idle or playing (counting allocator)", "[processor][realtime]")
{
    const double rate = 48000.0;
    const int block = 512;
    juce::TemporaryFile tmp (".wav");
    mgb_test::writeWav (tmp.getFile(), noise (48000, 2), 2, (int) rate, 24);
    MusicGenBridgeProcessor p;
    FakeHead head;
    prepare (p, head, 128.0, 7, 8, rate, block);
    juce::AudioBuffer<float> buffer (2, block);
    juce::MidiBuffer midi;
    midi.ensureSize (1024);

    auto run = [&] (int blocks)
    {
        size_t count = 0;
        for (int b = 0; b < blocks; ++b)
        {
            midi.clear();
            midi.addEvent (juce::MidiMessage::noteOn (1, 60 + b % 12, (juce::uint8) 100), 3);
            midi.addEvent (juce::MidiMessage::noteOff (1, 60 + b % 12), 300);
            head.at ((int64_t) b * block, rate);
            mgb_test::CountAllocations counter;
            p.processBlock (buffer, midi);
            count += counter.count();
        }
        return count;
    };

    setParam (p, MusicGenBridgeProcessor::captureId, 1);
    p.tick();
    CHECK (run (200) == 0);  // idle: no take

    loadProjectWithTake (p, tmp.getFile().getFullPathName());
    REQUIRE (waitForTake (p));
    setParam (p, MusicGenBridgeProcessor::loopId, 1);
    CHECK (run (200) == 0);  // playing a take, capturing MIDI

    // Sanity: the counter does count (so the zeros above mean something).
    {
        mgb_test::CountAllocations counter;
        int* volatile allocated = new int (3);  // volatile: the pair cannot be optimised away
        delete allocated;
        CHECK (counter.count() == 1);
    }
    p.setPlayHead (nullptr);
}

TEST_CASE ("an output folder that is missing or not writable is said before anything is sent", "[processor][folder]")
{
    MusicGenBridgeProcessor p;
    p.settings.prompt = "drums";
    p.settings.outDir = "/nonexistent/takes/folder";
    p.generate();
    CHECK (p.noticeLine().contains ("does not exist"));
    CHECK (p.noticeLine().contains ("/nonexistent/takes/folder"));
    CHECK_FALSE (p.takeActive());

    // An empty prompt from here on: whatever the folder check says, nothing is sent.
    p.settings.prompt = "   ";
    const auto readOnly = juce::File::createTempFile ("ro");
    REQUIRE (readOnly.createDirectory());
    readOnly.setReadOnly (true);
    p.settings.outDir = readOnly.getFullPathName();
    p.generate();
    if (readOnly.hasWriteAccess())
        WARN ("running as a user who can write anywhere (root): the not-writable case is not checked here");
    else
        CHECK (p.noticeLine().contains ("not writable"));
    readOnly.setReadOnly (false);
    readOnly.deleteRecursively();

    juce::TemporaryFile folder;
    REQUIRE (folder.getFile().createDirectory());
    p.settings.outDir = folder.getFile().getFullPathName();
    p.generate();
    CHECK (p.noticeLine().contains ("Type a prompt first"));
    CHECK_FALSE (p.takeActive());
    folder.getFile().deleteRecursively();
}

TEST_CASE ("a take keeps the tempo it was asked at when the host's changes, and says so", "[processor][tempo]")
{
    // A stand-in engine: a loopback socket that only receives, so the request goes out.
    juce::DatagramSocket engine (false);
    REQUIRE (engine.bindToPort (0, "127.0.0.1"));
    MusicGenBridgeProcessor p;
    juce::TemporaryFile folder;
    REQUIRE (folder.getFile().createDirectory());
    aimAt (p, engine.getBoundPort(), folder.getFile(), "drums");

    FakeHead head;
    prepare (p, head, 120.0, 4, 4, 48000.0, 256);
    juce::AudioBuffer<float> buffer (2, 256);
    juce::MidiBuffer midi;
    head.at (0, 48000.0);
    p.processBlock (buffer, midi);

    p.generate();
    REQUIRE (p.takeActive());
    char datagram[4096];
    REQUIRE (engine.waitUntilReady (true, 2000) == 1);
    const int got = engine.read (datagram, sizeof (datagram), false);
    const std::string sent (datagram, (size_t) juce::jmax (0, got));
    CHECK (sent.find ("/musicgen/generate") == 0);

    head.info.setBpm (100.0);
    p.processBlock (buffer, midi);
    p.tick();
    CHECK (p.noticeLine().contains ("changed to 100"));
    CHECK (p.noticeLine().contains ("keeps the 120"));
    p.setPlayHead (nullptr);
    folder.getFile().deleteRecursively();
}
