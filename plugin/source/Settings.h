// What the plugin remembers with the host's project (besides its automatable
// parameters): the prompt and settings, and the takes of the session with
// their recipes.  Message thread only.
#pragma once

#include <juce_core/juce_core.h>

#include <vector>

namespace mgb
{

struct TakeRecord
{
    juce::String path;       // absolute WAV path the engine wrote
    juce::String prompt, model, timesig;
    double bars = 0.0, bpm = 0.0;
    int seed = -1;           // -1: the engine picked it (the sidecar has it)
    int sampleRate = 0;      // asked; 0: the model's
    bool missing = false;    // its file was gone when the project was opened

    juce::String describe() const;
};

struct PluginSettings
{
    juce::String prompt;
    juce::String model;             // empty: the engine's own
    int seed = -1;                  // -1: random
    juce::String loudness = "off";  // "off", "-14" or "-23" (LUFS)
    juce::String outDir;            // empty: defaultOutDir()
    juce::String host = "127.0.0.1";
    int port = 9000;
    juce::String token;
    double manualBpm = 120.0;       // used when the host gives no tempo
    int manualNumerator = 4, manualDenominator = 4;
    bool preview = true;
    std::vector<TakeRecord> takes;
    int currentTake = -1;

    std::unique_ptr<juce::XmlElement> toXml() const;
    /** Reads what `toXml` wrote; unknown or missing fields keep their defaults. */
    void fromXml (const juce::XmlElement& xml);
    /** Marks the takes whose files are gone; returns the words for the status line ("" when none). */
    juce::String checkTakeFiles();
};

/** `~/Music/MusicGen Bridge/<yyyy-mm-dd>`: the default output folder. */
juce::File defaultOutDir();

/** Why `folder` cannot take the takes, in words; empty when it can. */
juce::String checkOutDir (const juce::File& folder);

} // namespace mgb
