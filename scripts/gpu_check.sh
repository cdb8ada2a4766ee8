#!/usr/bin/env bash
# The GPU check of docs/finetune-gpu.md, one script (a few minutes on one H100; at most 10, by its timeouts):
#   1. bench scenario finetune-throughput for deit-tiny (batch 256) and vit-base (batch 64): the bare
#      training-step ceiling against finetune's own path on CIFAR-10, at --precision auto (bf16 there);
#      target: ratio >= 0.80;
#   2. the first case again with --compile (torch.compile is kept as an option only if it pays);
#   3. the seed recipe's shape: deit-tiny from scratch, full CIFAR-10 at 224 px, 3 epochs;
#   4. the same recipe with --compile (whether compiling pays over a whole run).
# STEPS picks some of them (default "1 2 3 4").
# Needs .gpu/ from scripts/gpu_stage.sh (the data, and wheels for what the machine lacks).
# Results go to $OUT (default gpu-results/): at most 8 small files, no checkpoints.
# SMALL=1 runs the same steps tiny (demo preset, generated digits) to check the script on a CPU.
set -uo pipefail
OUT=${OUT:-gpu-results}
STAGE=${STAGE:-.gpu}
PY=${PYTHON:-python3}
if [ "${SMALL:-0}" = 1 ]; then
  DATA=${DATA:-digits}; MODEL=demo
  CASES=(--case demo:8 --steps 3 --warmup-steps 1 --limit-test 16)
  COMPILED=("${CASES[@]}")
  RECIPE=(--max-steps 3 --limit-train 64 --limit-test 32 --batch-size 16 --input-pipeline batch)
else
  DATA=${DATA:-$STAGE/cifar10-jpeg}; MODEL=deit-tiny
  CASES=(--case deit-tiny:256 --case vit-base:64)
  COMPILED=(--case deit-tiny:256)
  RECIPE=(--epochs 3 --batch-size 256 --eval-batch-size 512 --lr 5e-4 --weight-decay 0.05 --warmup-ratio 0.1
          --scheduler cosine --label-smoothing 0.1 --crop-padding 28 --logging-steps 50)
fi
STEPS=" ${STEPS:-1 2 3 4} "
mkdir -p "$OUT"
if compgen -G "$STAGE/whl/*.whl" > /dev/null && ! $PY -c "import datasets" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$STAGE"/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
  echo "cpu cores: $(nproc)"
  $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

if [[ $STEPS == *" 1 "* ]]; then
  echo "== 1. throughput (bench scenario finetune-throughput ${CASES[*]})"
  timeout 180 $PY -m bench scenario finetune-throughput --data "$DATA" "${CASES[@]}" --results "$OUT" \
    > "$OUT/throughput.log" 2>&1
  echo "exit $?" >> "$OUT/throughput.log"; tail -7 "$OUT/throughput.log"
fi

if [[ $STEPS == *" 2 "* ]]; then
  echo "== 2. the same with --compile (${COMPILED[*]}), to see whether torch.compile pays"
  timeout 150 $PY -m bench scenario finetune-throughput --data "$DATA" "${COMPILED[@]}" --compile \
    --results "$OUT/compile" >> "$OUT/throughput.log" 2>&1
  echo "exit $?" >> "$OUT/throughput.log"; tail -4 "$OUT/throughput.log"
fi

recipe() {  # recipe NAME [extra finetune options...]: run it, keep its log and run.json
  local name=$1; shift
  local run; run=$(mktemp -d)/recipe
  timeout 240 $PY -m finetune --model $MODEL --data "$DATA" --out "$run" "${RECIPE[@]}" "$@" --no-progress \
    >> "$OUT/recipe.log" 2>&1
  echo "exit $?" >> "$OUT/recipe.log"; tail -4 "$OUT/recipe.log"
  cp "$run/run.json" "$OUT/${name}_run.json" 2>/dev/null  # setup, seconds per phase, log_history
  rm -rf "$(dirname "$run")"
}
if [[ $STEPS == *" 3 "* ]]; then
  echo "== 3. seed recipe's shape: $MODEL from scratch on $DATA (${RECIPE[*]})"
  recipe recipe
fi
if [[ $STEPS == *" 4 "* ]]; then
  echo "== 4. the same with --compile"
  recipe recipe_compile --compile
fi
ls -la "$OUT"
