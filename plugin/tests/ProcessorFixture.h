// The real processor driven as a host drives it, for the processor tests and the
// bench: a playhead the test moves, the host's preparation, and a saved project
// holding one take.
#pragma once

#include "PluginProcessor.h"

namespace mgb_test
{
/** A playhead the test sets: playing, at a tempo and metre, moved sample by sample. */
struct FakeHead : juce::AudioPlayHead
{
    PositionInfo info;
    juce::Optional<PositionInfo> getPosition() const override { return info; }

    void at (int64_t sample, double rate)
    {
        info.setTimeInSamples (sample);
        info.setTimeInSeconds ((double) sample / rate);
        info.setPpqPosition ((double) sample / rate * *info.getBpm() / 60.0);
    }
};

/** Prepares `p` as a host does: stereo out, blocks of `block` at `rate`, `head` playing at bpm in n/d. */
inline void prepare (MusicGenBridgeProcessor& p, FakeHead& head, double bpm, int numerator, int denominator,
                     double rate, int block)
{
    head.info.setBpm (bpm);
    head.info.setTimeSignature (juce::AudioPlayHead::TimeSignature { numerator, denominator });
    head.info.setIsPlaying (true);
    p.setPlayHead (&head);
    p.setPlayConfigDetails (0, 2, rate, block);
    p.prepareToPlay (rate, block);
}

inline void setParam (MusicGenBridgeProcessor& p, const char* id, float value)
{
    auto* param = p.params.getParameter (id);
    param->setValueNotifyingHost (param->convertTo0to1 (value));
}

/** Waits (on this, the message thread) until the loader has handed over a take. */
inline bool waitForTake (MusicGenBridgeProcessor& p, int tries = 200)
{
    for (int i = 0; i < tries; ++i)
    {
        p.tick();
        if (p.hasPlayableTake())
            return true;
        juce::Thread::sleep (10);
    }
    return false;
}

/** A state holding one take (2 bars of 7/8 at 128 bpm), as a saved project does. */
inline void loadProjectWithTake (MusicGenBridgeProcessor& p, const juce::String& path)
{
    mgb::PluginSettings s;
    s.prompt = "test take";
    mgb::TakeRecord t;
    t.path = path;
    t.bars = 2;
    t.bpm = 128;
    t.timesig = "7/8";
    s.takes.push_back (t);
    s.currentTake = 0;
    juce::XmlElement root ("MusicGenBridge");
    root.addChildElement (s.toXml().release());
    juce::MemoryBlock block;
    juce::AudioProcessor::copyXmlToBinary (root, block);
    p.setStateInformation (block.getData(), (int) block.getSize());
}

/** Points `p` at an engine (a stand-in) on loopback `port`, writing into `folder`, with a prompt. */
inline void aimAt (MusicGenBridgeProcessor& p, int port, const juce::File& folder, const juce::String& prompt)
{
    p.settings.port = port;
    p.reconnect();
    p.settings.outDir = folder.getFullPathName();
    p.settings.prompt = prompt;
}
}
