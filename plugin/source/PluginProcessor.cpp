#include "PluginProcessor.h"

#include "PluginEditor.h"
#include "protocol/TakeLength.h"

namespace
{
    juce::AudioProcessorValueTreeState::ParameterLayout makeLayout()
    {
        using namespace juce;
        AudioProcessorValueTreeState::ParameterLayout layout;
        layout.add (std::make_unique<AudioParameterInt> (ParameterID { MusicGenBridgeProcessor::barsId, 1 }, "Bars", 1, 64, 4));
        layout.add (std::make_unique<AudioParameterInt> (ParameterID { MusicGenBridgeProcessor::variationsId, 1 }, "Variations", 1, 4, 1));
        layout.add (std::make_unique<AudioParameterBool> (ParameterID { MusicGenBridgeProcessor::playId, 1 }, "Play in sync", true));
        layout.add (std::make_unique<AudioParameterBool> (ParameterID { MusicGenBridgeProcessor::loopId, 1 }, "Loop", false));
        layout.add (std::make_unique<AudioParameterInt> (ParameterID { MusicGenBridgeProcessor::anchorId, 1 }, "Anchor bar", 1, 999, 1));
        layout.add (std::make_unique<AudioParameterBool> (ParameterID { MusicGenBridgeProcessor::captureId, 1 }, "Capture MIDI melody", false));
        layout.add (std::make_unique<AudioParameterBool> (ParameterID { MusicGenBridgeProcessor::generateId, 1 }, "Generate (on rise)", false));
        return layout;
    }
}

MusicGenBridgeProcessor::MusicGenBridgeProcessor()
    : AudioProcessor (BusesProperties().withOutput ("Output", juce::AudioChannelSet::stereo(), true)),
      params (*this, nullptr, "Parameters", makeLayout())
{
    playParam = params.getRawParameterValue (playId);
    loopParam = params.getRawParameterValue (loopId);
    anchorParam = params.getRawParameterValue (anchorId);
    captureParam = params.getRawParameterValue (captureId);
    generateParam = params.getRawParameterValue (generateId);
    barsParam = params.getRawParameterValue (barsId);
    variationsParam = params.getRawParameterValue (variationsId);

    // The engine's own port variable, when set, is this plugin's default too (a saved project's wins).
    const int envPort = juce::SystemStats::getEnvironmentVariable ("MUSICGEN_BRIDGE_PORT", {}).getIntValue();
    if (envPort >= 1 && envPort <= 65535)
        settings.port = envPort;

    instanceTag = juce::String::toHexString (juce::Random::getSystemRandom().nextInt()).paddedLeft ('0', 8).substring (0, 6);
    client.onReply = [this] (const std::string& address, const mgb::Args& args) { onReply (address, args); };
    reconnect();
    startTimerHz (20);
}

MusicGenBridgeProcessor::~MusicGenBridgeProcessor()
{
    stopTimer();
    alive->store (false);
    client.onReply = nullptr;
    playing.store (nullptr);
}

// ---------------------------------------------------------------- audio thread

void MusicGenBridgeProcessor::prepareToPlay (double sampleRate, int)
{
    hostRate.store (sampleRate);
}

void MusicGenBridgeProcessor::releaseResources() {}

bool MusicGenBridgeProcessor::isBusesLayoutSupported (const BusesLayout& layouts) const
{
    const auto out = layouts.getMainOutputChannelSet();
    return out == juce::AudioChannelSet::mono() || out == juce::AudioChannelSet::stereo();
}

void MusicGenBridgeProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi)
{
    juce::ScopedNoDenormals noDenormals;
    insideBlock.store (true);
    const int numSamples = buffer.getNumSamples();
    const int numChannels = buffer.getNumChannels();
    buffer.clear();
    const double rate = getSampleRate() > 0.0 ? getSampleRate() : hostRate.load();

    mgb::HostPosition pos;
    if (auto* head = getPlayHead())
    {
        if (const auto info = head->getPosition())
        {
            if (const auto bpm = info->getBpm()) { pos.bpm = *bpm; hostBpm.store (*bpm); hostHasTempo.store (*bpm > 0.0); }
            else hostHasTempo.store (false);
            if (const auto sig = info->getTimeSignature())
            {
                pos.numerator = sig->numerator;
                pos.denominator = sig->denominator;
                hostNumerator.store (sig->numerator);
                hostDenominator.store (sig->denominator);
                hostHasTimesig.store (sig->numerator > 0 && sig->denominator > 0);
            }
            if (const auto ppq = info->getPpqPosition()) { pos.hasPpq = true; pos.ppq = *ppq; hostPpq.store (*ppq); }
            if (const auto t = info->getTimeInSamples()) { pos.hasSamples = true; pos.timeInSamples = *t; }
            pos.playing = info->getIsPlaying();
            hostPlaying.store (pos.playing);
        }
    }
    if (! hostHasTempo.load())
        pos.bpm = 0.0;

    // A host's automation pulse may be shorter than the timer's period (an offline render
    // runs many blocks in 50 ms): the rise is latched here and acted on by the timer.
    const bool generateHigh = generateParam->load() > 0.5f;
    if (generateHigh && ! generateHighInAudio)
        generateRose.store (true);
    generateHighInAudio = generateHigh;

    // MIDI melody capture: note events with their position in beats, into the FIFO.
    if (captureParam->load() > 0.5f)
    {
        for (const auto metadata : midi)
        {
            const auto m = metadata.getMessage();
            if (! (m.isNoteOn() || m.isNoteOff()))
                continue;
            mgb::NoteEvent e;
            e.pitch = m.getNoteNumber();
            e.on = m.isNoteOn();
            e.velocity = m.isNoteOn() ? m.getVelocity() : 0;
            e.beat = pos.ppq + (pos.bpm > 0.0 ? metadata.samplePosition / rate * pos.bpm / 60.0 : 0.0);
            const auto scope = captureFifo.write (1);
            if (scope.blockSize1 + scope.blockSize2 == 0)
            {
                captureOverflow.fetch_add (1);
                continue;
            }
            captureEvents[(size_t) (scope.blockSize1 > 0 ? scope.startIndex1 : scope.startIndex2)] = e;
        }
    }

    auto* take = playing.load();
    if (take != nullptr && numChannels > 0)
    {
        const int64_t ready = take->ready.load (std::memory_order_acquire);
        const int takeChannels = take->audio.getNumChannels();
        const bool sameRate = take->sampleRate == rate;
        const double step = sameRate ? 1.0 : take->sampleRate / rate;

        int64_t offset = -1;
        bool loop = loopParam->load() > 0.5f;
        if (auditionRequested.exchange (false))
        {
            auditionPosition = 0;
            auditioning.store (true);
        }
        if (auditioning.load())
        {
            offset = auditionPosition;
            auditionPosition += numSamples;
            loop = false;
            if ((double) offset * step >= (double) take->length)
                auditioning.store (false);
        }
        else if (playParam->load() > 0.5f && pos.playing && pos.bpm > 0.0 && (pos.hasPpq || pos.hasSamples))
        {
            offset = mgb::offsetFromAnchor (pos, (int) anchorParam->load(), rate);
        }
        else
        {
            offset = std::numeric_limits<int64_t>::min();
        }

        if (offset != std::numeric_limits<int64_t>::min())
        {
            for (int ch = 0; ch < numChannels; ++ch)
            {
                const float* src = take->audio.getReadPointer (ch % takeChannels);
                float* dst = buffer.getWritePointer (ch);
                for (int i = 0; i < numSamples; ++i)
                {
                    if (sameRate)
                    {
                        const int64_t idx = mgb::takeIndexAt (offset + i, take->length, loop);
                        if (idx >= 0 && idx < ready)
                            dst[i] = src[idx];
                    }
                    else
                    {
                        // Another rate than the host's (the engine writes a fixed set): linear interpolation.
                        const double at = (double) (offset + i) * step;
                        if (at < 0.0)
                            continue;
                        const double len = (double) take->length;
                        const double wrapped = loop ? std::fmod (at, len) : at;
                        const auto i0 = (int64_t) wrapped;
                        if (i0 + 1 >= ready || i0 >= take->length)
                            continue;
                        const float frac = (float) (wrapped - (double) i0);
                        dst[i] = src[i0] + frac * (src[i0 + 1] - src[i0]);
                    }
                }
            }
        }
    }

    midi.clear();
    blocksProcessed.fetch_add (1);
    insideBlock.store (false);
}

// ---------------------------------------------------------------- message thread

double MusicGenBridgeProcessor::now() const
{
    return juce::Time::getMillisecondCounterHiRes() / 1000.0;
}

juce::String MusicGenBridgeProcessor::nextId (const char* prefix)
{
    return juce::String (prefix) + "-" + instanceTag + "-" + juce::String (++requestCounter);
}

void MusicGenBridgeProcessor::reconnect()
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    connectError.clear();
    client.connect (settings.host, settings.port, connectError);  // connectError says why not
    link = mgb::EngineLink();
    link.setEndpoint ((settings.host + ":" + juce::String (settings.port)).toStdString());
    lastPingAt = -1.0e9;
    models.clear();
    sendChangeMessage();
}

void MusicGenBridgeProcessor::requestModels()
{
    modelsRequestId = nextId ("m");
    pendingMelodyModels.clear();
    client.send (mgb::modelsMessage (modelsRequestId.toStdString(), client.replyPort(), settings.token.toStdString(), true));
}

void MusicGenBridgeProcessor::tick()
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    const double t = now();

    // Ping: the engine light, and (contract A) the run a take is followed on.
    const double pingEvery = follower.active() ? 1.0 : 2.0;
    if (t - lastPingAt >= pingEvery && client.connected())
    {
        lastPingAt = t;
        link.pingSent (t);
        client.send (mgb::pingMessage (nextId ("p").toStdString(), client.replyPort(), settings.token.toStdString()));
    }
    if (follower.active() && t - lastStatusAt >= 1.0 && client.connected())
    {
        lastStatusAt = t;
        client.send (mgb::statusMessage (nextId ("s").toStdString(), client.replyPort(), settings.token.toStdString(), true));
    }
    if (follower.active())
    {
        if (follower.tick (t, link.lastPong()))
            takeEnded();

        double bpm; int n, d;
        takeTempo (bpm, n, d);
        if (std::abs (bpm - pendingRequest.bpm) > 0.01)
            notice = "The host's tempo changed to " + juce::String (bpm, 2) + " bpm during the take: the take keeps the "
                   + juce::String (pendingRequest.bpm, 2) + " bpm it was asked at.";
    }

    // A host automating "Generate (on rise)".
    const bool generateNow = generateParam->load() > 0.5f;
    const bool rose = generateRose.exchange (false) || (generateNow && ! lastGenerateParam);
    lastGenerateParam = generateNow;
    if (rose)
        generate();

    drainCapture();
    drainLoaderResults();
    freeRetired();
    sendChangeMessage();
}

void MusicGenBridgeProcessor::onReply (const std::string& address, const mgb::Args& args)
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    const auto r = mgb::parseReply (address, args);
    const double t = now();
    switch (r.kind)
    {
        case mgb::Reply::Kind::Pong:
        {
            const bool first = ! link.everAnswered() || ! link.reachable (t);
            link.pong (r, t);
            follower.pong (r, t);
            if (follower.state() == mgb::TakeFollower::State::Failed)
                takeEnded();
            if (first || (models.isEmpty() && r.state == "ready"))
                requestModels();
            break;
        }
        case mgb::Reply::Kind::Model:
            if (r.id == modelsRequestId.toStdString())
                if (r.melody)
                    pendingMelodyModels.add (juce::String (r.model));
            break;
        case mgb::Reply::Kind::Models:
            if (r.id == modelsRequestId.toStdString())
            {
                models.clear();
                for (const auto& n : r.names)
                    models.add (n);
                melodyModelNames = pendingMelodyModels;
            }
            break;
        case mgb::Reply::Kind::Job:
            if (r.job == follower.id())
                follower.jobEta (r.etaSeconds, t);
            break;
        case mgb::Reply::Kind::Preview:
            if (r.id == follower.id() && r.index == 1 && follower.active())
            {
                const auto path = juce::String (r.paths[0]);
                if (path != previewPath || previewReader == nullptr)
                {
                    previewPath = path;
                    previewPublished = false;
                    previewReader = std::make_shared<mgb::GrowingWavReader> (
                        juce::File (path), mgb::takeSeconds (pendingRequest.bars, pendingRequest.bpm,
                                                             pendingRequest.timesigNumerator, pendingRequest.timesigDenominator));
                }
                auto reader = previewReader;
                auto token = alive;
                loader.run ([this, reader, token]
                {
                    juce::String error;
                    const auto ready = reader->update (error);
                    if (! token->load())
                        return;
                    std::lock_guard<std::mutex> g (resultsLock);
                    results.push_back ({ reader->buffer(), error, true, ready });
                });
            }
            break;
        case mgb::Reply::Kind::Queued:
        case mgb::Reply::Kind::Progress:
        case mgb::Reply::Kind::Warning:
        case mgb::Reply::Kind::Done:
        case mgb::Reply::Kind::Error:
        case mgb::Reply::Kind::Cancel:  // the engine's answer to our cancel settles the take
        {
            // An engine without the preview stream refuses the key: ask again without it, once
            // (not when the take is being cancelled: the refusal ends it).
            if (r.kind == mgb::Reply::Kind::Error && follower.active() && ! follower.cancelling() && r.id == follower.id()
                && r.code == "unknown_argument" && r.message.find ("preview") != std::string::npos && pendingRequest.preview)
            {
                previewRefused = true;
                sendGenerate();
                break;
            }
            if (follower.reply (r, t))
                takeEnded();
            break;
        }
        case mgb::Reply::Kind::Malformed:
            notice = "The engine sent a reply this plugin cannot read (" + juce::String (r.problem)
                   + "): is the plugin older than the engine?";
            break;
        case mgb::Reply::Kind::Status:   // asked for its /musicgen/job entries (the eta); the engine line comes from pong
        case mgb::Reply::Kind::Unknown:  // an address this client does not use
            break;
    }
    sendChangeMessage();
}

juce::File MusicGenBridgeProcessor::outDir() const
{
    return settings.outDir.isNotEmpty() ? juce::File (settings.outDir) : mgb::defaultOutDir();
}

MusicGenBridgeProcessor::HostInfo MusicGenBridgeProcessor::hostInfo() const
{
    HostInfo h;
    h.hasTempo = hostHasTempo.load();
    h.hasTimesig = hostHasTimesig.load();
    h.playing = hostPlaying.load();
    h.bpm = hostBpm.load();
    h.ppq = hostPpq.load();
    h.sampleRate = getSampleRate() > 0.0 ? getSampleRate() : hostRate.load();
    h.numerator = hostNumerator.load();
    h.denominator = hostDenominator.load();
    return h;
}

void MusicGenBridgeProcessor::takeTempo (double& bpm, int& numerator, int& denominator) const
{
    const auto h = hostInfo();
    bpm = h.hasTempo ? h.bpm : settings.manualBpm;
    numerator = h.hasTempo && h.hasTimesig ? h.numerator : settings.manualNumerator;
    denominator = h.hasTempo && h.hasTimesig ? h.denominator : settings.manualDenominator;
}

void MusicGenBridgeProcessor::generate()
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    if (follower.active())
    {
        notice = follower.cancelling() ? "The take is being cancelled: wait for the engine's answer."
                                       : "A take is already being made: wait for it, or Cancel it.";
        return;
    }
    notice.clear();
    if (! client.connected())
    {
        notice = connectError.isNotEmpty() ? connectError : "Not connected to the engine.";
        return;
    }

    // The folder: the default one is ours to create; a chosen one must exist and be writable.
    const auto folder = outDir();
    if (settings.outDir.isEmpty() && ! folder.exists())
        folder.createDirectory();
    const auto folderProblem = mgb::checkOutDir (folder);
    if (folderProblem.isNotEmpty())
    {
        notice = folderProblem;
        sendChangeMessage();
        return;
    }

    mgb::GenerateSettings s;
    s.prompt = settings.prompt.toStdString();
    s.bars = (double) barsParam->load();
    takeTempo (s.bpm, s.timesigNumerator, s.timesigDenominator);
    if (settings.seed >= 0)
        s.seed = settings.seed;
    s.variations = juce::jlimit (1, 4, (int) variationsParam->load());
    if (settings.loudness != "off")
        s.loudness = settings.loudness.getDoubleValue();
    s.model = settings.model.toStdString();
    s.outDir = folder.getFullPathName().toStdString();
    const int rate = juce::roundToInt (hostInfo().sampleRate);
    s.sampleRate = mgb::engineWritesSampleRate (rate) ? rate : 0;
    s.melodyNotes = capturedMelody.toStdString();
    s.preview = settings.preview && ! previewRefused;

    const auto problem = mgb::checkGenerate (s);
    if (! problem.empty())
    {
        notice = juce::String (problem);
        sendChangeMessage();
        return;
    }
    pendingRequest = s;
    pendingRecipe = {};
    pendingRecipe.prompt = settings.prompt;
    pendingRecipe.model = settings.model;
    pendingRecipe.timesig = juce::String (s.timesigNumerator) + "/" + juce::String (s.timesigDenominator);
    pendingRecipe.bars = s.bars;
    pendingRecipe.bpm = s.bpm;
    pendingRecipe.seed = settings.seed;
    pendingRecipe.sampleRate = s.sampleRate;
    sendGenerate();
}

void MusicGenBridgeProcessor::sendGenerate()
{
    auto s = pendingRequest;
    s.preview = s.preview && ! previewRefused;
    pendingRequest.preview = s.preview;
    const auto id = nextId ("g");
    follower.begin (id.toStdString(), now(), link.run());
    previewReader.reset();
    previewPath.clear();
    client.send (mgb::generateMessage (s, id.toStdString(), client.replyPort(), settings.token.toStdString()));
    sendChangeMessage();
}

void MusicGenBridgeProcessor::cancel()
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    if (! follower.canCancel())
        return;
    // The take is followed on until the engine settles the cancel: one that comes after the
    // take's last decode step is refused (too_late) and the take's done follows.
    const auto id = nextId ("c");
    client.send (mgb::cancelMessage (id.toStdString(), client.replyPort(), settings.token.toStdString(), follower.id()));
    follower.cancelSent (id.toStdString(), now());
    sendChangeMessage();
}

void MusicGenBridgeProcessor::takeEnded()
{
    previewReader.reset();
    previewPath.clear();
    if (follower.state() == mgb::TakeFollower::State::Done)
    {
        const int first = (int) settings.takes.size();
        for (size_t i = 0; i < follower.paths().size(); ++i)
        {
            auto record = pendingRecipe;
            record.path = juce::String (follower.paths()[i]);
            if (record.seed >= 0)
                record.seed += (int) i;  // take i has seed + i
            settings.takes.push_back (record);
        }
        if (! follower.warnings().empty())
            notice = juce::String (follower.warnings().front());
        selectTake (first);
    }
    else if (follower.state() == mgb::TakeFollower::State::Failed && previewPublished)
    {
        // The preview's file goes with the failed take: stop playing it.
        publish (nullptr);
    }
    previewPublished = false;
    sendChangeMessage();
}

void MusicGenBridgeProcessor::selectTake (int index)
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    if (index < 0 || index >= (int) settings.takes.size())
        return;
    settings.currentTake = index;
    loadTake (index);
}

void MusicGenBridgeProcessor::loadTake (int index)
{
    const auto path = settings.takes[(size_t) index].path;
    auto token = alive;
    loader.run ([this, path, token]
    {
        juce::String error;
        auto take = mgb::readTake (juce::File (path), error);
        if (! token->load())
            return;
        std::lock_guard<std::mutex> g (resultsLock);
        results.push_back ({ take, error, false, take != nullptr ? take->length : 0 });
    });
}

void MusicGenBridgeProcessor::auditionTake (int index)
{
    selectTake (index);
    auditionRequested.store (true);
}

void MusicGenBridgeProcessor::stopAudition()
{
    auditioning.store (false);
}

void MusicGenBridgeProcessor::drainLoaderResults()
{
    std::vector<LoadResult> got;
    {
        std::lock_guard<std::mutex> g (resultsLock);
        got.swap (results);
    }
    for (auto& r : got)
    {
        if (r.take == nullptr)
        {
            notice = r.error;
            if (! r.preview)
                for (auto& t : settings.takes)
                    if (r.error.contains (t.path))
                        t.missing = true;
            continue;
        }
        if (r.preview)
        {
            // A preview of the take being made: play it as it grows, until the final take replaces it.
            if (follower.active() && r.take->path == previewPath && ! previewPublished)
            {
                publish (r.take);
                previewPublished = true;
            }
            continue;
        }
        publish (r.take);
    }
}

void MusicGenBridgeProcessor::publish (std::shared_ptr<mgb::TakeBuffer> take)
{
    auto* old = playing.exchange (take.get());
    if (current != nullptr)
    {
        jassert (old == current.get());
        retired.push_back ({ current, blocksProcessed.load() });
    }
    juce::ignoreUnused (old);
    current = std::move (take);
}

void MusicGenBridgeProcessor::freeRetired()
{
    // A replaced buffer is freed once the audio thread cannot hold it: it is not inside a block
    // now (any later block loads the new pointer), or two blocks have begun since.
    const auto blocks = blocksProcessed.load();
    const bool idle = ! insideBlock.load();
    retired.erase (std::remove_if (retired.begin(), retired.end(),
                                   [&] (const Retired& r) { return idle || blocks >= r.block + 2; }),
                   retired.end());
}

void MusicGenBridgeProcessor::drainCapture()
{
    const bool on = captureParam->load() > 0.5f;
    double bpm; int n, d;
    takeTempo (bpm, n, d);
    if (on && ! capturing)
    {
        assembler.start (mgb::quarterNotesPerBar (n, d));
        capturing = true;
    }
    const auto scope = captureFifo.read (captureFifo.getNumReady());
    for (int i = 0; i < scope.blockSize1; ++i)
        assembler.add (captureEvents[(size_t) (scope.startIndex1 + i)]);
    for (int i = 0; i < scope.blockSize2; ++i)
        assembler.add (captureEvents[(size_t) (scope.startIndex2 + i)]);
    if (! on && capturing)
    {
        assembler.stop (hostPpq.load());
        capturing = false;
        capturedMelody = juce::String (assembler.melodyNotes());
        capturedNotes = (int) assembler.notes().size();
    }
}

void MusicGenBridgeProcessor::clearMelody()
{
    capturedMelody.clear();
    capturedNotes = 0;
}

juce::String MusicGenBridgeProcessor::melodyLine() const
{
    if (capturing)
        return "Capturing MIDI notes for the melody...";
    if (capturedNotes > 0)
        return "Melody: " + juce::String (capturedNotes) + " notes captured (sent with the next take; melody models only).";
    return "Melody: none (turn Capture on and play, or play a MIDI clip on this track).";
}

juce::String MusicGenBridgeProcessor::engineLine() const
{
    if (connectError.isNotEmpty())
        return connectError;
    return juce::String (link.describe (now()));
}

juce::String MusicGenBridgeProcessor::takeLine() const
{
    return juce::String (follower.describe (now()));
}

// ---------------------------------------------------------------- state

void MusicGenBridgeProcessor::getStateInformation (juce::MemoryBlock& destData)
{
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    juce::XmlElement root ("MusicGenBridge");
    root.setAttribute ("version", 1);
    root.addChildElement (settings.toXml().release());
    if (auto xml = params.copyState().createXml())
        root.addChildElement (xml.release());
    // What the plugin last read from the host's playhead (shown in the editor; not restored).
    auto* seen = root.createNewChildElement ("HostSeen");
    const auto h = hostInfo();
    seen->setAttribute ("hasTempo", h.hasTempo ? 1 : 0);
    seen->setAttribute ("bpm", h.bpm);
    seen->setAttribute ("timesig", juce::String (h.numerator) + "/" + juce::String (h.denominator));
    seen->setAttribute ("sampleRate", h.sampleRate);
    auto* status = root.createNewChildElement ("Status");
    status->setAttribute ("engine", engineLine());
    status->setAttribute ("take", takeLine());
    status->setAttribute ("notice", notice);
    status->setAttribute ("playing", current != nullptr ? current->path : juce::String());
    status->setAttribute ("playingReady", juce::String (playableSamplesReady()));
    status->setAttribute ("preview", previewPublished ? 1 : 0);
    copyXmlToBinary (root, destData);
}

void MusicGenBridgeProcessor::setStateInformation (const void* data, int sizeInBytes)
{
    auto xml = getXmlFromBinary (data, sizeInBytes);
    if (xml == nullptr || ! xml->hasTagName ("MusicGenBridge"))
        return;
    std::lock_guard<std::recursive_mutex> lock (settingsLock);
    const auto oldHost = settings.host;
    const auto oldPort = settings.port;
    if (auto* s = xml->getChildByName ("Settings"))
        settings.fromXml (*s);
    if (auto* p = xml->getChildByName (params.state.getType()))
        params.replaceState (juce::ValueTree::fromXml (*p));
    notice = settings.checkTakeFiles();
    if (settings.currentTake >= 0 && ! settings.takes[(size_t) settings.currentTake].missing)
        loadTake (settings.currentTake);
    if (oldHost != settings.host || oldPort != settings.port)
        reconnect();
    sendChangeMessage();
}

juce::AudioProcessorEditor* MusicGenBridgeProcessor::createEditor()
{
    return new MusicGenBridgeEditor (*this);
}

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new MusicGenBridgeProcessor();
}
