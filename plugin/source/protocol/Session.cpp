#include "Session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mgb
{

namespace
{
    const char* howToStart = "start it with `musicgen-bridge serve` (in a checkout: `make serve`)";

    std::string minutesSeconds (double seconds)
    {
        const int s = (int) std::ceil (std::max (0.0, seconds));
        char text[32];
        if (s >= 60)
            std::snprintf (text, sizeof (text), "%d min %02d s", s / 60, s % 60);
        else
            std::snprintf (text, sizeof (text), "%d s", s);
        return text;
    }
}

void EngineLink::pingSent (double now)
{
    if (firstUnansweredPingAt < 0.0)
        firstUnansweredPingAt = now;
}

void EngineLink::pong (const Reply& r, double now)
{
    answered = true;
    lastPongAt = now;
    firstUnansweredPingAt = -1.0;
    lastState = r.state;
    lastModel = r.model;
    lastReason = r.reason;
    lastVersion = r.version;
    lastRun = r.run;
}

bool EngineLink::reachable (double now) const
{
    if (! answered)
        return false;
    if (firstUnansweredPingAt < 0.0)
        return true;
    return now - firstUnansweredPingAt < pongTimeoutSeconds;
}

std::string EngineLink::describe (double now) const
{
    if (! reachable (now))
    {
        if (! answered && (firstUnansweredPingAt < 0.0 || now - firstUnansweredPingAt < pongTimeoutSeconds))
            return "Looking for the engine at " + endpoint + "...";
        return std::string ("The engine is not running (no answer at ") + endpoint + "): " + howToStart + ".";
    }
    if (lastState == "ready")
        return "Engine ready: " + lastModel + ".";
    if (lastState == "busy")
        return "Engine busy: " + lastModel + " is generating.";
    if (lastState == "loading")
        return "The engine is loading its model" + (lastReason.empty() ? std::string (".") : ": " + lastReason);
    if (lastState == "no_model")
        return "The engine has no model: " + (lastReason.empty() ? std::string ("see its log.") : lastReason);
    if (lastState == "stopping")
        return "The engine is shutting down.";
    return "Engine: " + lastState + ".";
}

void TakeFollower::begin (const std::string& id, double now, const std::string& runAtStart)
{
    *this = TakeFollower();
    st = State::Sent;
    requestId = id;
    startedAt = now;
    run = runAtStart;
}

bool TakeFollower::reply (const Reply& r, double now)
{
    if (! active())
        return false;
    // An empty id answers the request in flight when its own id could not be used (docs/protocol.md).
    if (r.id != requestId && ! (r.id.empty() && r.kind == Reply::Kind::Error))
        return false;
    switch (r.kind)
    {
        case Reply::Kind::Queued:
            st = r.position == 0 ? State::Running : State::Queued;
            queuePosition = r.position;
            return false;
        case Reply::Kind::Progress:
            st = State::Running;
            stageName = r.stage;
            if (r.stage == "generating")
            {
                if (firstProgressAt < 0.0)
                {
                    firstProgressAt = now;
                    firstProgress = r.fraction;
                }
                lastProgressAt = now;
            }
            progress = r.fraction;
            return false;
        case Reply::Kind::Warning:
            warningMessages.push_back (r.message);
            return false;
        case Reply::Kind::Done:
            st = State::Done;
            progress = 1.0;
            donePaths = r.paths;
            return true;
        case Reply::Kind::Error:
            fail (r.code, r.message);
            return true;
        default:
            return false;
    }
}

void TakeFollower::pong (const Reply& r, double)
{
    if (! active())
        return;
    if (run.empty())
    {
        run = r.run;  // the first run we see; an engine without `run` keeps it empty
        return;
    }
    if (! r.run.empty() && r.run != run)
        fail ("engine_restarted", "Take failed: the engine restarted; the take was lost. Press Generate to make it again.");
}

bool TakeFollower::tick (double now, double lastPongAt)
{
    if (! active())
        return false;
    const double heardFrom = std::max (lastPongAt, startedAt);
    if (now - heardFrom > engineSilenceSeconds)
    {
        fail ("engine_unreachable",
              "The engine stopped answering during the take; the take was lost. Is it still running? "
              "Start it with `musicgen-bridge serve`, then press Generate again.");
        return true;
    }
    return false;
}

void TakeFollower::jobEta (double etaSeconds, double now)
{
    engineEta = etaSeconds;
    engineEtaAt = now;
}

void TakeFollower::cancelled()
{
    if (active())
        fail ("cancelled", "Cancelled.");
}

void TakeFollower::fail (std::string errorCode, std::string words)
{
    st = State::Failed;
    code = std::move (errorCode);
    message = std::move (words);
}

double TakeFollower::secondsLeft (double now) const
{
    if (engineEta >= 0.0)
        return std::max (0.0, engineEta - (now - engineEtaAt));
    if (firstProgressAt >= 0.0 && lastProgressAt > firstProgressAt && progress > firstProgress)
    {
        const double rate = (progress - firstProgress) / (lastProgressAt - firstProgressAt);
        return std::max (0.0, (1.0 - progress) / rate - (now - lastProgressAt));
    }
    return -1.0;
}

std::string TakeFollower::describe (double now) const
{
    switch (st)
    {
        case State::Idle: return {};
        case State::Sent: return "Sent; waiting for the engine...";
        case State::Queued: return "Queued: " + std::to_string (queuePosition) + " ahead.";
        case State::Running:
        {
            if (stageName == "loading")
                return "Loading the model...";
            std::string line = "Generating: " + std::to_string ((int) std::floor (progress * 100.0)) + "%";
            const double left = secondsLeft (now);
            line += left >= 0.0 ? ", about " + minutesSeconds (left) + " left." : ".";
            return line;
        }
        case State::Done: return "Done.";
        case State::Failed: return message;
    }
    return {};
}

} // namespace mgb
