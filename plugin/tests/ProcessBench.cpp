// Prints the audio thread's cost per processBlock, idle and playing a take
// (512-sample stereo blocks at 48 kHz, 7/8 at 128 bpm).  A figure to report,
// never an assertion: `build/mgb_process_bench`.
#include "PluginProcessor.h"
#include "WavFiles.h"

#include <chrono>
#include <cstdio>

namespace
{
    struct Head : juce::AudioPlayHead
    {
        PositionInfo info;
        juce::Optional<PositionInfo> getPosition() const override { return info; }
    };

    double nanosPerBlock (MusicGenBridgeProcessor& p, Head& head, int blocks, int blockSize, double rate)
    {
        juce::AudioBuffer<float> buffer (2, blockSize);
        juce::MidiBuffer midi;
        const auto start = std::chrono::steady_clock::now();
        for (int b = 0; b < blocks; ++b)
        {
            const int64_t s = (int64_t) b * blockSize;
            head.info.setTimeInSamples (s);
            head.info.setPpqPosition ((double) s / rate * 128.0 / 60.0);
            p.processBlock (buffer, midi);
        }
        const auto end = std::chrono::steady_clock::now();
        return std::chrono::duration<double, std::nano> (end - start).count() / blocks;
    }
}

int main()
{
    juce::ScopedJuceInitialiser_GUI juce;
    const double rate = 48000.0;
    const int block = 512, blocks = 20000;
    juce::TemporaryFile tmp (".wav");
    std::vector<float> audio (48000 * 10 * 2);
    juce::Random r (1);
    for (auto& x : audio)
        x = r.nextFloat() - 0.5f;
    mgb_test::writeWav (tmp.getFile(), audio, 2, (int) rate, 24);

    MusicGenBridgeProcessor p;
    Head head;
    head.info.setBpm (128.0);
    head.info.setTimeSignature (juce::AudioPlayHead::TimeSignature { 7, 8 });
    head.info.setIsPlaying (true);
    p.setPlayHead (&head);
    p.setPlayConfigDetails (0, 2, rate, block);
    p.prepareToPlay (rate, block);

    const double idle = nanosPerBlock (p, head, blocks, block, rate);

    mgb::PluginSettings s;
    mgb::TakeRecord t;
    t.path = tmp.getFile().getFullPathName();
    s.takes.push_back (t);
    s.currentTake = 0;
    juce::XmlElement root ("MusicGenBridge");
    root.addChildElement (s.toXml().release());
    juce::MemoryBlock state;
    juce::AudioProcessor::copyXmlToBinary (root, state);
    p.setStateInformation (state.getData(), (int) state.getSize());
    for (int i = 0; i < 500 && ! p.hasPlayableTake(); ++i) { p.tick(); juce::Thread::sleep (10); }
    if (! p.hasPlayableTake()) { std::printf ("the take did not load\n"); return 1; }
    auto* loop = p.params.getParameter (MusicGenBridgeProcessor::loopId);
    loop->setValueNotifyingHost (1.0f);
    const double playing = nanosPerBlock (p, head, blocks, block, rate);

    const double budget = block / rate * 1e9;
    std::printf ("processBlock, %d-sample stereo blocks at %.0f Hz (%d blocks each):\n", block, rate, blocks);
    std::printf ("  idle:    %8.0f ns per block (%.4f%% of the block's %.2f ms)\n", idle, 100.0 * idle / budget, budget / 1e6);
    std::printf ("  playing: %8.0f ns per block (%.4f%% of the block's %.2f ms)\n", playing, 100.0 * playing / budget, budget / 1e6);
    p.setPlayHead (nullptr);
    return 0;
}
