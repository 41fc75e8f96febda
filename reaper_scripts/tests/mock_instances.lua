-- The mock's script instances (mock_reaper.lua installs them): defer, atexit,
-- set_action_options, relaunching a running script, and the automatic undo point.
--
-- A script "runs" while it has a deferred function.  Relaunching a running one (state.relaunch)
-- terminates it when it set set_action_options flag 1 (and starts the new one when flag 2 is set
-- too), else does what the user answers REAPER's dialog: "terminate" (atexit callbacks run, its
-- deferred functions are dropped, nothing new starts) or "new" (a second copy runs alongside).
-- atexit callbacks also run when a script ends on its own.  A script that ends its first run
-- without deferring and without an undo block of its own gets the automatic "ReaScript: Run"
-- undo point (state.undo lists the undo history).
local I = {}

--- Add the instance machinery to the mock's `api` and `state`.
function I.install(api, state)
  function api.defer(fn)
    state.deferred[#state.deferred + 1] = { fn = fn, instance = state.instance }
    if state.instance then state.instance.deferred_once = true end
  end
  function api.atexit(fn)
    local inst = assert(state.instance, "atexit outside a running script")
    inst.atexit[#inst.atexit + 1] = fn
  end
  function api.set_action_options(flags)
    assert(state.instance, "set_action_options outside a running script").options = flags
  end
  --- Run `fn` (a script's body) as a new instance of script `name`, as REAPER runs an action:
  -- afterwards, the automatic undo point when it neither deferred nor made one.
  function state.launch(name, fn)
    local inst = { name = name, atexit = {}, options = 0 }
    state.instances[#state.instances + 1] = inst
    local outer = state.instance
    state.instance = inst
    fn()
    state.instance = outer
    if not inst.deferred_once and (inst.undo_points or 0) == 0 then
      state.undo[#state.undo + 1] = "ReaScript: Run"
    end
    state.end_finished()
    return inst
  end

  local function running(inst)
    for _, d in ipairs(state.deferred) do
      if d.instance == inst then return true end
    end
    return false
  end

  local function end_instance(inst)
    if inst.ended then return end
    inst.ended = true
    local outer = state.instance
    state.instance = inst
    for _, fn in ipairs(inst.atexit) do fn() end
    state.instance = outer
  end

  --- Instances whose deferred functions ran out have ended: their atexit callbacks run.
  function state.end_finished()
    for _, inst in ipairs(state.instances) do
      if not inst.ended and not running(inst) then end_instance(inst) end
    end
  end

  --- Terminate the running instances of script `name`: atexit runs, their deferred are dropped.
  function state.terminate(name)
    for _, inst in ipairs(state.instances) do
      if inst.name == name and not inst.ended and running(inst) then
        local kept = {}
        for _, d in ipairs(state.deferred) do
          if d.instance ~= inst then kept[#kept + 1] = d end
        end
        state.deferred = kept
        end_instance(inst)
      end
    end
  end

  --- The user runs script `name` (body `fn`) again.  While one runs: set_action_options flag 1
  -- terminates it (and flag 2 then starts the new one); without, REAPER asks, and `answer` is
  -- "terminate" (the running one ends, nothing new starts) or "new" (a second copy runs).
  function state.relaunch(name, fn, answer)
    local live
    for _, inst in ipairs(state.instances) do
      if inst.name == name and not inst.ended and running(inst) then live = inst end
    end
    if not live then return state.launch(name, fn) end
    state.asked = (state.asked or 0) + ((live.options & 1) == 0 and 1 or 0)
    if (live.options & 1) ~= 0 then
      state.terminate(name)
      if (live.options & 2) ~= 0 then return state.launch(name, fn) end
      return nil
    end
    if answer == "terminate" then
      state.terminate(name)
      return nil
    end
    assert(answer == "new", "REAPER asks Terminate instances / New instance: the test must answer")
    return state.launch(name, fn)
  end

  --- Run deferred functions, up to `max` rounds; each round is `step` seconds (1/30) on the
  -- clock time_precise reads, and `between()` (if given) runs after each.  Returns the rounds.
  function state.pump(max, step, between)
    local rounds = 0
    while #state.deferred > 0 and rounds < (max or 2000) do
      local batch = state.deferred
      state.deferred = {}
      for _, d in ipairs(batch) do
        local outer = state.instance
        state.instance = d.instance
        d.fn()
        state.instance = outer
      end
      state.end_finished()
      state.now = state.now + (step or 1 / 30)
      rounds = rounds + 1
      if between then between() end
    end
    return rounds
  end

end

return I
