#!/bin/bash
# Everything issue 28 still needs from a CUDA machine, as one prepared run of at most ~9 minutes
# (the device tool allows 10 minutes a command and 15 a session). A script, never a test.
#
# Here, first:   bash ../shared/gpu/prepare.sh        # fills .device-wheels/ (git-ignored)
# Then carry .device-wheels and run, from the project's root on the CUDA machine:
#   bash benchmarks/gpu_session.sh [all|tests|speed|served|profile]
#
#   tests    pytest -m cuda (graphs, the fused step and its draw, background capture), then
#            benchmarks/fused_step.py: kernels a step and ms a replay, today's step and the fused one
#   speed    benchmarks/speed.py, small/medium/large at 1 and 8 takes, graphed and fused
#   served   benchmarks/served_start.py on a small-size checkpoint: ready after serve, the first
#            take and later ones, with --graph-capture now|background, with and without
#            --fused-step, then 8 clients at once with --gather-ms 0 and 10
#   profile  benchmarks/gpu_step_profile.py small (torch.profiler of the graphed loop)
#   all      tests, speed, served (about 8.5 minutes on an H200 by the timeouts; profile apart)
#
# Every phase writes under $OUT as it goes (a timeout keeps what ran) and is capped by `timeout`.
# Knobs for a dry run of the script on a machine without CUDA (figures meaningless there):
#   DEVICE=cpu SIZES=small STEPS=4 CK=debug bash benchmarks/gpu_session.sh served
set -u
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
ROOT=$PWD; W=$ROOT/.device-wheels; O=${OUT:-/tmp/out}; mkdir -p "$O"; what=${1:-all}
DEVICE=${DEVICE:-cuda}; SIZES=${SIZES:-small,medium,large}; STEPS=${STEPS:-120}
CK=${CK:-/tmp/ck-small}
T0=$(date +%s); stamp() { echo "## [$(( $(date +%s) - T0 )) s] $*" | tee -a "$O/log.txt"; }
want() { [ "$what" = all ] && [ "$1" != profile ] || [ "$what" = "$1" ]; }

stamp "setup ($what, device $DEVICE)"
if [ -d "$W" ] && ls "$W"/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$W"/*.whl
  export PYTHONPATH=/tmp/site:$ROOT
else
  export PYTHONPATH=$ROOT
fi
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv \
  | tee -a "$O/log.txt"
python3 -c 'import torch, transformers, triton; print("torch", torch.__version__, "transformers",
transformers.__version__, "triton", triton.__version__,
torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA")' 2>&1 | tee -a "$O/log.txt"

if want tests; then
  stamp "pytest -m cuda"
  timeout 150 python3 -m pytest -q -m cuda -p no:cacheprovider tests/ -rA 2>&1 | tail -60 \
    > "$O/pytest.txt"
  stamp "fused_step.py"
  timeout 90 python3 benchmarks/fused_step.py --sizes "$SIZES" --batches 1,8 > "$O/fused.txt" 2>&1
fi
if want speed; then
  stamp "speed.py graphed,fused"
  timeout 150 python3 benchmarks/speed.py --device "$DEVICE" --sizes "$SIZES" --dtypes float16 \
    --batches 1,8 --paths graphed,fused --steps "$STEPS" --repeat 2 > "$O/speed.txt" 2>&1
fi
if want served; then
  if [ "$CK" != debug ] && [ ! -d "$CK" ]; then
    stamp "small-size checkpoint"
    timeout 60 python3 "$W/small_checkpoint.py" "$CK" > "$O/checkpoint.txt" 2>&1
  fi
  stamp "served_start.py: capture modes"
  timeout 100 python3 benchmarks/served_start.py --model "$CK" --device "$DEVICE" \
    --capture now,background --takes 3 > "$O/served_capture.txt" 2>&1
  stamp "served_start.py: fused step"
  timeout 60 python3 benchmarks/served_start.py --model "$CK" --device "$DEVICE" --keep-cache \
    --capture now --takes 3 --extra=--fused-step > "$O/served_fused.txt" 2>&1
  stamp "served_start.py: 8 clients, gather window"
  timeout 60 python3 benchmarks/served_start.py --model "$CK" --device "$DEVICE" --keep-cache \
    --capture now --takes 1 --gather-ms 0,10 --clients 8 --bursts 3 > "$O/served_gather.txt" 2>&1
fi
if want profile; then
  stamp "gpu_step_profile.py"
  timeout 150 python3 benchmarks/gpu_step_profile.py small "$O" > "$O/profile_stdout.txt" 2>&1
fi
stamp done
for f in pytest.txt fused.txt speed.txt served_capture.txt served_fused.txt served_gather.txt \
  profile_stdout.txt; do
  [ -f "$O/$f" ] && { echo "=== $f"; grep -v "^\[transformers\]" "$O/$f" | tail -24; }
done
exit 0
