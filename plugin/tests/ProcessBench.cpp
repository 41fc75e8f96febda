// Prints the audio thread's cost per processBlock, idle and playing a take
// (512-sample stereo blocks at 48 kHz, 7/8 at 128 bpm).  A figure to report,
// never an assertion: `build/mgb_process_bench`.
#include "ProcessorFixture.h"
#include "WavFiles.h"

#include <chrono>
#include <cstdio>

namespace
{
    double nanosPerBlock (MusicGenBridgeProcessor& p, mgb_test::FakeHead& head, int blocks, int blockSize, double rate)
    {
        juce::AudioBuffer<float> buffer (2, blockSize);
        juce::MidiBuffer midi;
        const auto start = std::chrono::steady_clock::now();
        for (int b = 0; b < blocks; ++b)
        {
            head.at ((int64_t) b * blockSize, rate);
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
    mgb_test::FakeHead head;
    mgb_test::prepare (p, head, 128.0, 7, 8, rate, block);

    const double idle = nanosPerBlock (p, head, blocks, block, rate);

    mgb_test::loadProjectWithTake (p, tmp.getFile().getFullPathName());
    if (! mgb_test::waitForTake (p, 500)) { std::printf ("the take did not load\n"); return 1; }
    mgb_test::setParam (p, MusicGenBridgeProcessor::loopId, 1);
    const double playing = nanosPerBlock (p, head, blocks, block, rate);

    const double budget = block / rate * 1e9;
    std::printf ("processBlock, %d-sample stereo blocks at %.0f Hz (%d blocks each):\n", block, rate, blocks);
    std::printf ("  idle:    %8.0f ns per block (%.4f%% of the block's %.2f ms)\n", idle, 100.0 * idle / budget, budget / 1e6);
    std::printf ("  playing: %8.0f ns per block (%.4f%% of the block's %.2f ms)\n", playing, 100.0 * playing / budget, budget / 1e6);
    p.setPlayHead (nullptr);
    return 0;
}
