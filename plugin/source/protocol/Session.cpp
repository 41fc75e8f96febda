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
    if (! cancelId.empty() && r.id == cancelId)
        return cancelReply (r);
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
    if (cancelling() && now - cancelSentAt > engineSilenceSeconds)
    {
        const auto waited = std::to_string ((int) engineSilenceSeconds) + " s";
        if (cancel == Cancel::Unknown)
            fail ("unknown_job", "Cancelled here: the engine no longer knew this take (" + cancelWords
                                     + ") and sent no result for it within " + waited + ".");
        else
            fail ("cancel_unanswered", "Cancelled here: the engine did not answer the cancel within " + waited
                                           + "; the take was dropped from this list. If the engine still "
                                             "finishes it, its file will be in the take folder.");
        return true;
    }
    return false;
}

void TakeFollower::jobEta (double etaSeconds, double now)
{
    engineEta = etaSeconds;
    engineEtaAt = now;
}

void TakeFollower::cancelSent (const std::string& id, double now)
{
    if (! active())
        return;
    cancel = Cancel::Asked;
    cancelId = id;
    cancelWords.clear();
    cancelSentAt = now;
}

bool TakeFollower::cancelReply (const Reply& r)
{
    if (r.kind == Reply::Kind::Cancel && r.job == requestId)
    {
        fail ("cancelled", r.was == "queued" ? "Cancelled before it started." : "Cancelled.");
        return true;
    }
    if (r.kind != Reply::Kind::Error || ! (cancel == Cancel::Asked || cancel == Cancel::Unknown))
        return false;
    cancelWords = r.message;
    if (r.code == "too_late")
        cancel = Cancel::TooLate;  // the take is being written: its done follows
    else if (r.code == "unknown_job")
        cancel = Cancel::Unknown;  // it ended there: its done or error may be on its way
    else
        cancel = Cancel::Refused;  // the take goes on
    return false;
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
    if (cancelling())
        return "Cancelling...";
    if (active() && cancel == Cancel::TooLate)
        return "Too late to cancel: the take had finished generating and is being written; "
               "it will be added to the takes.";
    std::string line;
    switch (st)
    {
        case State::Idle: break;
        case State::Sent: line = "Sent; waiting for the engine..."; break;
        case State::Queued: line = "Queued: " + std::to_string (queuePosition) + " ahead."; break;
        case State::Running:
        {
            if (stageName == "loading")
            {
                line = "Loading the model...";
                break;
            }
            line = "Generating: " + std::to_string ((int) std::floor (progress * 100.0)) + "%";
            const double left = secondsLeft (now);
            line += left >= 0.0 ? ", about " + minutesSeconds (left) + " left." : ".";
            break;
        }
        case State::Done: line = "Done."; break;
        case State::Failed: line = message; break;
    }
    if (active() && cancel == Cancel::Refused)
        line += " (The engine refused the cancel: " + cancelWords + ")";
    return line;
}

} // namespace mgb
