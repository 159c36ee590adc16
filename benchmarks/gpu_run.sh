#!/usr/bin/env bash
# Issue 9's GPU run, in parts that each fit one device call (10 minutes), most telling first. Each part writes its
# tables to $OUT (what the device tool brings back). Wheels the GPU image lacks travel in .whl (docs/benchmarks.md
# says which and how they are fetched): carry [".whl"].
#
#   bash benchmarks/gpu_run.sh check    # CUDA graphs equal eager on this GPU (run first), the codec in half precision
#   bash benchmarks/gpu_run.sh small    # small, bf16, graphs: steps/s against transformers fp16
#   bash benchmarks/gpu_run.sh sizes    # medium and large
#   bash benchmarks/gpu_run.sh stream   # streamed vs offline decode, 64 streams in one bank; time to first audio
#   bash benchmarks/gpu_run.sh serve    # concurrent 60 s real-time streams in `loopgen serve`
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:?"which part: check, small, sizes, stream or serve"}
out=${OUT:-/tmp/loopgen-gpu}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
run() {  # run NAME SECONDS COMMAND...: the command's output to the log and to $OUT/NAME.txt
  local name=$1 limit=$2
  shift 2
  echo "== $* (at most ${limit} s)" | tee "$out/$name.txt"
  timeout "$limit" "$@" 2>&1 | tee -a "$out/$name.txt"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$out/gpu.txt"
gen="python3 benchmarks/generate.py --device cuda --dtype bfloat16 --ref-dtype float16 --cuda-graphs"
case $part in
  check)
    run graphs 300 python3 benchmarks/graphs_check.py --device cuda
    run codec 200 python3 benchmarks/codec_dtype.py --device cuda ;;
  small)
    run small 540 $gen --steps 500 --rounds 5 ;;
  sizes)
    run medium 270 $gen --size medium --steps 300 --rounds 3
    run large 300 $gen --size large --steps 300 --rounds 3 ;;
  stream)
    run streaming 240 python3 benchmarks/streaming.py --device cuda --cuda-graphs --streams 64
    run ttfa 300 python3 benchmarks/server.py --model random:small --device cuda --dtype bfloat16 --cuda-graphs \
      --skip-capacity --runs 9 ;;
  serve)
    run capacity 570 python3 benchmarks/server.py --model random:small --device cuda --dtype bfloat16 --cuda-graphs \
      --runs 1 --seconds 60 --counts 64,96,128 ;;
  *)
    echo "unknown part $part" >&2
    exit 2 ;;
esac
