// MusicGen Bridge: an instrument that asks the engine for takes over OSC and
// plays them in sync with the host from an anchor bar.  The audio thread only
// reads the playhead, copies samples from the published TakeBuffer and pushes
// MIDI notes into a pre-allocated FIFO; everything else (OSC, files, state)
// runs on the message thread or the loader's thread.
#pragma once

#include "EngineClient.h"
#include "Settings.h"
#include "TakeLoader.h"
#include "protocol/MelodyNotes.h"
#include "protocol/Session.h"
#include "protocol/Transport.h"

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <atomic>
#include <mutex>

class MusicGenBridgeProcessor : public juce::AudioProcessor,
                                public juce::ChangeBroadcaster,
                                private juce::Timer
{
public:
    MusicGenBridgeProcessor();
    ~MusicGenBridgeProcessor() override;

    // AudioProcessor
    void prepareToPlay (double sampleRate, int samplesPerBlock) override;
    void releaseResources() override;
    bool isBusesLayoutSupported (const BusesLayout& layouts) const override;
    void processBlock (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;
    using AudioProcessor::processBlock;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    const juce::String getName() const override { return "MusicGen Bridge"; }
    bool acceptsMidi() const override { return true; }
    bool producesMidi() const override { return false; }
    bool isMidiEffect() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return {}; }
    void changeProgramName (int, const juce::String&) override {}
    void getStateInformation (juce::MemoryBlock& destData) override;
    void setStateInformation (const void* data, int sizeInBytes) override;

    // Message thread: what the editor uses.
    juce::AudioProcessorValueTreeState params;
    mgb::PluginSettings settings;

    void generate();
    void cancel();
    void reconnect();
    void requestModels();
    void selectTake (int index);
    void auditionTake (int index);  // plays the take from its start, not synced (for the list's Play)
    void stopAudition();
    void clearMelody();
    juce::File outDir() const;

    struct HostInfo
    {
        bool hasTempo = false, hasTimesig = false, playing = false;
        double bpm = 0.0, ppq = 0.0, sampleRate = 0.0;
        int numerator = 4, denominator = 4;
    };
    HostInfo hostInfo() const;
    /** The tempo and metre a take would be asked at now: the host's, else the editor's fields. */
    void takeTempo (double& bpm, int& numerator, int& denominator) const;

    juce::String engineLine() const;
    juce::String takeLine() const;
    double takeProgress() const { return follower.active() ? follower.fraction() : -1.0; }
    bool takeActive() const { return follower.active(); }
    /** Whether Cancel means anything now (a take is followed, and no cancel of it is pending or refused as too late). */
    bool takeCancellable() const { return follower.canCancel(); }
    juce::StringArray modelNames() const { return models; }
    /** Models the engine's details mark as melody checkpoints (they take the captured MIDI). */
    juce::StringArray melodyModels() const { return melodyModelNames; }
    juce::String melodyLine() const;
    juce::String noticeLine() const { return notice; }

    // Parameter ids
    static constexpr const char* barsId = "bars";
    static constexpr const char* variationsId = "variations";
    static constexpr const char* playId = "play";
    static constexpr const char* loopId = "loop";
    static constexpr const char* anchorId = "anchor_bar";
    static constexpr const char* captureId = "capture";
    static constexpr const char* generateId = "generate";

    /** For the tests and the editor: whether a take (or preview) is published to the audio thread. */
    bool hasPlayableTake() const { return playing.load() != nullptr; }
    int64_t playableSamplesReady() const { auto* t = playing.load(); return t != nullptr ? t->ready.load() : 0; }
    juce::String capturedMelodyNotes() const { return capturedMelody; }

    std::atomic<int64_t> blocksProcessed { 0 };

    /** The message thread's periodic work (20 times a second from the timer; the tests call it). */
    void tick();

private:
    void timerCallback() override { tick(); }
    double now() const;
    void onReply (const std::string& address, const mgb::Args& args);
    void takeEnded();
    void publish (std::shared_ptr<mgb::TakeBuffer> take);
    void freeRetired();
    void loadTake (int index);
    void drainLoaderResults();
    void drainCapture();
    void sendGenerate();
    juce::String nextId (const char* prefix);

    // Audio-thread side: read by processBlock, written elsewhere only through atomics.
    std::atomic<mgb::TakeBuffer*> playing { nullptr };
    std::atomic<bool> insideBlock { false };
    std::atomic<bool> auditionRequested { false }, auditioning { false };
    std::atomic<bool> generateRose { false };  // a rise of "Generate (on rise)" seen by the audio thread
    bool generateHighInAudio = false;           // audio thread only
    int64_t auditionPosition = 0;  // audio thread only
    std::atomic<double> hostBpm { 0.0 }, hostPpq { 0.0 }, hostRate { 0.0 };
    std::atomic<int> hostNumerator { 4 }, hostDenominator { 4 };
    std::atomic<bool> hostHasTempo { false }, hostHasTimesig { false }, hostPlaying { false };
    std::atomic<float>* playParam = nullptr;
    std::atomic<float>* loopParam = nullptr;
    std::atomic<float>* anchorParam = nullptr;
    std::atomic<float>* captureParam = nullptr;
    std::atomic<float>* generateParam = nullptr;
    std::atomic<float>* barsParam = nullptr;
    std::atomic<float>* variationsParam = nullptr;

    // MIDI capture: audio thread -> message thread, lock-free.
    static constexpr int captureCapacity = 4096;
    juce::AbstractFifo captureFifo { captureCapacity };
    std::array<mgb::NoteEvent, captureCapacity> captureEvents {};
    std::atomic<int> captureOverflow { 0 };
    mgb::NoteAssembler assembler;
    bool capturing = false;
    juce::String capturedMelody;
    int capturedNotes = 0;

    // Message thread side.
    mutable std::recursive_mutex settingsLock;  // state calls may come from another thread
    mgb::EngineClient client;
    mgb::EngineLink link;
    mgb::TakeFollower follower;
    juce::String connectError;
    juce::String notice;  // one more line: folder problems, missing files, tempo changes
    juce::StringArray models, pendingMelodyModels, melodyModelNames;
    juce::String modelsRequestId;
    int requestCounter = 0;
    juce::String instanceTag;
    double lastPingAt = -1.0e9, lastStatusAt = -1.0e9;
    bool lastGenerateParam = false;
    mgb::GenerateSettings pendingRequest;
    mgb::TakeRecord pendingRecipe;
    bool previewRefused = false;
    std::shared_ptr<mgb::TakeBuffer> current;
    struct Retired { std::shared_ptr<mgb::TakeBuffer> take; int64_t block; };
    std::vector<Retired> retired;

    // Loader results, handed to the message thread under a lock (never on the audio thread).
    std::mutex resultsLock;
    struct LoadResult { std::shared_ptr<mgb::TakeBuffer> take; juce::String error; bool preview = false; int64_t ready = 0; };
    std::vector<LoadResult> results;
    std::shared_ptr<mgb::GrowingWavReader> previewReader;  // used on the loader thread only
    juce::String previewPath;
    bool previewPublished = false;
    std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>> (true);
    mgb::TakeLoader loader;  // last: destroyed first, so no job outlives what it writes to

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (MusicGenBridgeProcessor)
};
