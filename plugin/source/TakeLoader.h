// Takes reach the audio thread here.  A TakeBuffer is audio in memory, filled by
// the loader's own thread and read by the audio thread only below its `ready`
// count (an atomic, released by the writer): a final take is filled once, a
// preview grows as the engine's growing WAV is re-read (contract B).  The
// processor publishes one buffer to the audio thread by an atomic pointer and
// frees the ones it replaced on the message thread, never on the audio thread.
#pragma once

#include <juce_audio_formats/juce_audio_formats.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

namespace mgb
{

struct TakeBuffer
{
    TakeBuffer (int channels, int64_t capacitySamples, double rate);

    juce::AudioBuffer<float> audio;   // [channels, capacity]; never resized once shared
    double sampleRate = 0.0;
    int64_t length = 0;               // samples the take has in all (a preview: the length asked)
    std::atomic<int64_t> ready { 0 }; // samples written so far: the audio thread reads [0, ready)
    juce::String path;                // the file it came from
};

/** Longest take held in memory: the engine's own maximum is 120 s; a file ten times that is refused. */
constexpr double maxTakeSeconds = 1200.0;

/** Reads a WAV whole; the error in words when it cannot. Runs on any thread but the audio one. */
std::shared_ptr<TakeBuffer> readTake (const juce::File& file, juce::String& error);

/**
    Reads a growing WAV anew each time it is asked to, appending what is new to one buffer
    (contract B: the header is rewritten after each append; read only up to the data length it
    states).  Not thread-safe: one caller (the loader thread) at a time.
*/
class GrowingWavReader
{
public:
    /** `expectedSeconds`: the take's length as asked; the buffer holds that much at the file's rate. */
    GrowingWavReader (juce::File file, double expectedSeconds);
    /** Reads what the file has beyond what was read; returns samples now ready, or -1 with `error`. */
    int64_t update (juce::String& error);
    /** Null until the first successful update. */
    const std::shared_ptr<TakeBuffer>& buffer() const { return target; }
    const juce::File& getFile() const { return file; }

private:
    juce::File file;
    double expectedSeconds = 0.0;
    std::shared_ptr<TakeBuffer> target;
};

/** One background thread for reading files; results come back through callbacks on that thread. */
class TakeLoader
{
public:
    TakeLoader();
    ~TakeLoader();
    void run (std::function<void()> job);

private:
    juce::ThreadPool pool { 1 };
};

} // namespace mgb
