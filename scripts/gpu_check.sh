#!/usr/bin/env bash
# The GPU check of docs/finetune-gpu.md, one script (about 9 min on one H200; each step bounded by its timeout):
#   1. bench scenario finetune-throughput for deit-tiny (batch 256) and vit-base (batch 64): the bare
#      training-step ceiling against finetune's own path on CIFAR-10, at --precision auto (bf16 there);
#   2. the deit-tiny case again with --compile (its rows say what compiled: graphs and recompiles);
#   3. the seed recipe's shape: deit-tiny from scratch, full CIFAR-10 at 224 px, 3 epochs, --compile off;
#   4. the same with --compile train, on an empty compile cache;
#   5. the same with --compile all (evaluation compiled too), on the cache step 4 left;
#   6. the seed's second model: the ViT-B/16 recipe (3 epochs, full CIFAR-10 at 224 px, batch 64).
# STEPS picks some of them (default "1 2 3 4 5 6"; "3 4 5" and "1 2 6" split it in two runs of under
# 5 min; step 5 reads the cache in $CACHE that step 4 filled, on the same machine).
# Needs .gpu/ from scripts/gpu_stage.sh (the data, and wheels for what the machine lacks).
# Results go to $OUT (default gpu-results/): small files, no checkpoints; recipes.json holds the
# recipe runs as results rows (seconds per phase, graphs and recompiles, accuracy per epoch).
# SMALL=1 runs the same steps tiny (demo preset, generated digits) to check the script on a CPU.
set -uo pipefail
OUT=${OUT:-gpu-results}
STAGE=${STAGE:-.gpu}
CACHE=${CACHE:-/tmp/evit-inductor-cache}
PY=${PYTHON:-python3}
SLOW=1  # timeouts' multiplier: inductor compiles the tiny steps on a CPU slower than the real ones on a GPU
if [ "${SMALL:-0}" = 1 ]; then
  DATA=${DATA:-digits}; MODEL=demo; BIG=demo; SLOW=3
  CASES=(--case demo:8 --steps 3 --warmup-steps 1 --limit-test 16)
  COMPILED=("${CASES[@]}")
  RECIPE=(--max-steps 6 --limit-train 70 --limit-test 40 --batch-size 16 --eval-batch-size 32 --input-pipeline batch)
  BIG_RECIPE=("${RECIPE[@]}")
else
  DATA=${DATA:-$STAGE/cifar10-jpeg}; MODEL=deit-tiny; BIG=vit-base
  CASES=(--case deit-tiny:256 --case vit-base:64)
  COMPILED=(--case deit-tiny:256)
  RECIPE=(--epochs 3 --batch-size 256 --eval-batch-size 512 --lr 5e-4 --weight-decay 0.05 --warmup-ratio 0.1
          --scheduler cosine --label-smoothing 0.1 --crop-padding 28 --logging-steps 50)
  BIG_RECIPE=(--epochs 3 --batch-size 64 --eval-batch-size 256 --lr 1e-4 --weight-decay 0.05 --warmup-ratio 0.1
              --scheduler cosine --label-smoothing 0.1 --crop-padding 28 --logging-steps 200)
fi
STEPS=" ${STEPS:-1 2 3 4 5 6} "
mkdir -p "$OUT"
if compgen -G "$STAGE/whl/*.whl" > /dev/null && ! $PY -c "import datasets" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$STAGE"/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export TORCHINDUCTOR_CACHE_DIR=$CACHE
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
  echo "cpu cores: $(nproc)"
  $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

if [[ $STEPS == *" 1 "* ]]; then
  echo "== 1. throughput (bench scenario finetune-throughput ${CASES[*]})"
  timeout $((180 * SLOW)) $PY -m bench scenario finetune-throughput --data "$DATA" "${CASES[@]}" --results "$OUT" \
    > "$OUT/throughput.log" 2>&1
  echo "exit $?" >> "$OUT/throughput.log"; tail -7 "$OUT/throughput.log"
fi

if [[ $STEPS == *" 2 "* ]]; then
  echo "== 2. the same with --compile (${COMPILED[*]}): speed, graphs and recompiles"
  timeout $((150 * SLOW)) $PY -m bench scenario finetune-throughput --data "$DATA" "${COMPILED[@]}" --compile \
    --results "$OUT/compile" >> "$OUT/throughput.log" 2>&1
  echo "exit $?" >> "$OUT/throughput.log"; tail -4 "$OUT/throughput.log"
fi

recipe() {  # recipe NAME MODEL [finetune options...]: run it, keep its log, run.json and wall seconds
  local name=$1 model=$2; shift 2
  local run; run=$(mktemp -d)/recipe
  local start; start=$(date +%s.%N)
  timeout $((300 * SLOW)) $PY -m finetune --model "$model" --data "$DATA" --out "$run" "$@" --no-progress \
    >> "$OUT/recipe.log" 2>&1
  echo "exit $?" >> "$OUT/recipe.log"; tail -4 "$OUT/recipe.log"
  $PY -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 1))" "$start" > "$OUT/${name}_wall_s.txt"
  cp "$run/run.json" "$OUT/${name}_run.json" 2>/dev/null  # setup (seconds per phase, what compiled), log_history
  rm -rf "$(dirname "$run")"
}
if [[ $STEPS == *" 3 "* ]]; then
  echo "== 3. seed recipe's shape: $MODEL on $DATA (${RECIPE[*]})"
  recipe deit-tiny $MODEL "${RECIPE[@]}" --compile off
fi
if [[ $STEPS == *" 4 "* ]]; then
  echo "== 4. the same, --compile train, empty cache"; rm -rf "$CACHE"
  recipe deit-tiny_compile-train $MODEL "${RECIPE[@]}" --compile train
fi
if [[ $STEPS == *" 5 "* ]]; then
  echo "== 5. the same, --compile all, on the cache of step 4"
  recipe deit-tiny_compile-all $MODEL "${RECIPE[@]}" --compile all
fi
if [[ $STEPS == *" 6 "* ]]; then
  echo "== 6. ViT-B/16 recipe: $BIG (${BIG_RECIPE[*]})"
  recipe vit-base $BIG "${BIG_RECIPE[@]}" --compile off
fi

$PY - "$OUT" <<'PY'  # the recipe runs as one results file (rows for docs/finetune-gpu.md's tables)
import json, sys
from pathlib import Path
from finetune.report import recipe_results
out = Path(sys.argv[1])
runs = {p.name[:-len("_run.json")]: p for p in sorted(out.glob("*_run.json"), key=lambda p: p.stat().st_mtime)}
walls = {name: float((out / f"{name}_wall_s.txt").read_text()) for name in runs
         if (out / f"{name}_wall_s.txt").is_file()}
about = "process wall: from starting python -m finetune to its exit"
(out / "recipes.json").write_text(json.dumps(recipe_results(runs, walls, about), indent=1))
for row in json.loads((out / "recipes.json").read_text())["rows"]:
    print({k: row[k] for k in ("run", "process_wall_s", "train_s", "train_graphs", "train_recompiles", "compile_s",
                               "accuracy")})
PY
ls -la "$OUT"
