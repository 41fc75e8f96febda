#include "TakeLoader.h"

namespace mgb
{

TakeBuffer::TakeBuffer (int channels, int64_t capacitySamples, double rate)
    : audio (juce::jmax (1, channels), (int) juce::jmax<int64_t> (1, capacitySamples)),
      sampleRate (rate),
      length (capacitySamples)
{
    audio.clear();
}

namespace
{
    std::unique_ptr<juce::AudioFormatReader> openWav (const juce::File& file, juce::String& error)
    {
        if (! file.existsAsFile())
        {
            error = "The take's file is gone: " + file.getFullPathName();
            return nullptr;
        }
        auto stream = std::make_unique<juce::FileInputStream> (file);
        if (! stream->openedOk())
        {
            error = "Cannot open " + file.getFullPathName() + ": " + stream->getStatus().getErrorMessage();
            return nullptr;
        }
        juce::WavAudioFormat wav;
        std::unique_ptr<juce::AudioFormatReader> reader (wav.createReaderFor (stream.release(), true));
        if (reader == nullptr)
            error = "Not a WAV file this plugin can read: " + file.getFullPathName();
        else if (reader->sampleRate < 8000.0 || reader->sampleRate > 384000.0 || reader->numChannels < 1
                 || reader->numChannels > 8)
        {
            error = "Unexpected WAV format (" + juce::String (reader->sampleRate) + " Hz, "
                  + juce::String (reader->numChannels) + " channels): " + file.getFullPathName();
            reader.reset();
        }
        else if ((double) reader->lengthInSamples > maxTakeSeconds * reader->sampleRate)
        {
            error = "The file is longer than " + juce::String (maxTakeSeconds) + " s: " + file.getFullPathName();
            reader.reset();
        }
        return reader;
    }
}

std::shared_ptr<TakeBuffer> readTake (const juce::File& file, juce::String& error)
{
    auto reader = openWav (file, error);
    if (reader == nullptr)
        return nullptr;
    const auto length = reader->lengthInSamples;
    auto take = std::make_shared<TakeBuffer> ((int) reader->numChannels, length, reader->sampleRate);
    take->path = file.getFullPathName();
    if (length > 0 && ! reader->read (&take->audio, 0, (int) length, 0, true, true))
    {
        error = "Could not read " + file.getFullPathName();
        return nullptr;
    }
    take->ready.store (length, std::memory_order_release);
    return take;
}

GrowingWavReader::GrowingWavReader (juce::File f, double seconds)
    : file (std::move (f)), expectedSeconds (juce::jlimit (0.0, maxTakeSeconds, seconds))
{
}

int64_t GrowingWavReader::update (juce::String& error)
{
    auto reader = openWav (file, error);
    if (reader == nullptr)
        return -1;
    if (target == nullptr)
    {
        const auto capacity = (int64_t) std::ceil (expectedSeconds * reader->sampleRate);
        target = std::make_shared<TakeBuffer> ((int) reader->numChannels, juce::jmax<int64_t> (1, capacity),
                                               reader->sampleRate);
        target->path = file.getFullPathName();
    }
    if ((int) reader->numChannels != target->audio.getNumChannels() || reader->sampleRate != target->sampleRate)
    {
        error = "The preview's format changed while it grew: " + file.getFullPathName();
        return -1;
    }
    const int64_t have = target->ready.load (std::memory_order_relaxed);
    const int64_t capacity = target->audio.getNumSamples();
    const int64_t upTo = juce::jmin<int64_t> (reader->lengthInSamples, capacity);
    if (upTo > have)
    {
        // Writes only above `ready`: the audio thread reads only below it.
        if (! reader->read (&target->audio, (int) have, (int) (upTo - have), have, true, true))
        {
            error = "Could not read the preview " + file.getFullPathName();
            return -1;
        }
        target->ready.store (upTo, std::memory_order_release);
    }
    return target->ready.load (std::memory_order_relaxed);
}

TakeLoader::TakeLoader() = default;

TakeLoader::~TakeLoader()
{
    pool.removeAllJobs (true, 10000);
}

void TakeLoader::run (std::function<void()> job)
{
    pool.addJob (std::move (job));
}

} // namespace mgb
