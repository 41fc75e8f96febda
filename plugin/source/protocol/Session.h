// Following the engine and one take at a time, as plain C++ (times in seconds
// from any monotonic clock): what the status line says, when a take has failed
// because the engine went away or restarted (contract A: the `run` in pong), a
// cancel until the engine answers it, and the time left.  The processor feeds it
// replies and ticks; it sends nothing.
#pragma once

#include "Protocol.h"

#include <string>
#include <vector>

namespace mgb
{

/** What the engine last said about itself, and whether it is reachable. */
class EngineLink
{
public:
    static constexpr double pongTimeoutSeconds = 3.0;

    void pingSent (double now);
    void pong (const Reply& r, double now);
    /** True while a pong came within pongTimeoutSeconds of the last ping answered in time. */
    bool reachable (double now) const;
    bool everAnswered() const { return answered; }
    /** The status line: the engine's own words (its state and reason), or how to start it. */
    std::string describe (double now) const;
    const std::string& run() const { return lastRun; }
    const std::string& state() const { return lastState; }
    const std::string& model() const { return lastModel; }
    double lastPong() const { return lastPongAt; }

    void setEndpoint (std::string hostAndPort) { endpoint = std::move (hostAndPort); }

private:
    std::string endpoint = "127.0.0.1:9000";
    bool answered = false;
    double lastPongAt = -1.0e9, firstUnansweredPingAt = -1.0;
    std::string lastState, lastModel, lastReason, lastVersion, lastRun;
};

/** One take from generate to done or error. */
class TakeFollower
{
public:
    enum class State { Idle, Sent, Queued, Running, Done, Failed };

    /** Fail a take when no pong has come for this long while following it; drop one
        whose cancel the engine has not settled (cancelled, too_late, done) within it. */
    static constexpr double engineSilenceSeconds = 6.0;

    void begin (const std::string& requestId, double now, const std::string& runAtStart);
    /** A reply for our request id or our cancel's; returns true when it ended the take. */
    bool reply (const Reply& r, double now);
    /** A pong: a changed `run` means the engine restarted and the take was lost. */
    void pong (const Reply& r, double now);
    /** Periodic check: a silent engine, or a cancel left unsettled, fails the take.
        Returns true when it just failed. */
    bool tick (double now, double lastPongAt);
    /** The engine's own eta for our job (status details), -1 when unknown. */
    void jobEta (double etaSeconds, double now);
    /** Cancel `cancelId` was sent for this take.  The take is followed on until the
        engine settles it: its `/musicgen/cancel` reply or the take's `cancelled` error
        ends it; `too_late` means the take is being written and its `done` follows. */
    void cancelSent (const std::string& cancelId, double now);
    /** A cancel was sent and the engine has not settled it yet. */
    bool cancelling() const { return active() && (cancel == Cancel::Asked || cancel == Cancel::Unknown); }
    /** Whether Cancel means anything now: a take is followed and no cancel of it is pending or refused as too late. */
    bool canCancel() const { return active() && (cancel == Cancel::None || cancel == Cancel::Refused); }

    State state() const { return st; }
    bool active() const { return st == State::Sent || st == State::Queued || st == State::Running; }
    const std::string& id() const { return requestId; }
    double fraction() const { return progress; }
    const std::string& stage() const { return stageName; }
    const std::vector<std::string>& paths() const { return donePaths; }
    const std::vector<std::string>& warnings() const { return warningMessages; }
    const std::string& errorCode() const { return code; }
    const std::string& errorMessage() const { return message; }
    /** Seconds left: the engine's eta when known, else from the progress rate; -1 unknown. */
    double secondsLeft (double now) const;
    /** One line for the editor. */
    std::string describe (double now) const;

private:
    void fail (std::string errorCode, std::string words);

    bool cancelReply (const Reply& r);

    /** Where a sent cancel stands: Asked until answered; Unknown: the engine knew no such
        job (its done may be on its way); TooLate: refused, the take is being written. */
    enum class Cancel { None, Asked, Unknown, TooLate, Refused };

    State st = State::Idle;
    Cancel cancel = Cancel::None;
    std::string requestId, run, stageName, code, message, cancelId, cancelWords;
    double cancelSentAt = 0.0;
    int queuePosition = 0;
    double startedAt = 0.0, progress = 0.0;
    double firstProgressAt = -1.0, firstProgress = 0.0, lastProgressAt = -1.0;
    double engineEta = -1.0, engineEtaAt = -1.0;
    std::vector<std::string> donePaths, warningMessages;
};

} // namespace mgb
