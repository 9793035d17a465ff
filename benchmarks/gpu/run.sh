#!/bin/bash
# Issue #23's GPU checks in one run, sized for a short lease on one GPU (~6 min on an H200):
#   1. training throughput of the shipped recipe's shape on the GPU: LoRA in one padded pass of 8 (b8), QLoRA
#      (4-bit NF4, bitsandbytes), and (IA)^3 / prefix tuning (benchmarks.train_throughput, a whole epoch each);
#   2. medassist-train under `accelerate launch` with the shipped DeepSpeed ZeRO-2, ZeRO-3 and FSDP configs
#      (one process: the engines' code paths, the gathered adapter written), 3 steps each;
#   3. the fine-tuning tests on a machine with CUDA (device: auto picks the GPU);
#   4. the shipped recipe as it is (batch 1, chunked loss) on the GPU.
# Usage, from the repository root (python3 = a CUDA build of torch with the requirements):
#   BASE=/path/to/hf-folder bash benchmarks/gpu/run.sh     # real weights: validation loss compares with 1.876
#   SHAPE=/path/to/config+tokenizer bash benchmarks/gpu/run.sh   # random weights of that shape (speed, memory)
#   SHAPE=... PY=.venv/bin/python bash benchmarks/gpu/run.sh --tiny   # a CPU dry run of this script
# Env: DATA (the shared sample), OUT (where results.tgz goes), WHEELS (a folder of wheels installed first, for a
# machine without a registry: bitsandbytes, deepspeed and their needs), BUDGET (seconds for all steps).
set -u
OUT=${OUT:-benchmarks/results/gpu}; R=/tmp/gpu-checks/r; rm -rf $R; mkdir -p $OUT $R
TINY=${1:-}; PY=${PY:-python3}; T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-450}))
DATA=${DATA:-../shared/data/finetune/medical_o1_sample_en.jsonl}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
pack() { tar czf $OUT/results.tgz -C /tmp/gpu-checks r; }
left() { local l=$((DEADLINE - $(date +%s))); [ $l -lt 1 ] && l=1; [ $l -lt $1 ] && echo $l || echo $1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee $R/gpu.txt
WHEELS=${WHEELS:-.whl}
if [ -d "$WHEELS" ] && [ -z "$TINY" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $WHEELS/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
$PY - <<'PYEOF' 2>&1 | tee $R/versions.txt
import torch, transformers, peft, accelerate
print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "peft",
      peft.__version__, "accelerate", accelerate.__version__)
for m in ("bitsandbytes", "deepspeed"):
    try:
        print(m, __import__(m).__version__)
    except Exception as e:
        print(m, "FAILED", type(e).__name__, str(e)[:300])
PYEOF
if [ -z "${BASE:-}" ]; then
  log "random base of the shape in $SHAPE"; BASE=/tmp/gpu-checks/base
  $PY -m benchmarks.gpu.random_base "$SHAPE" $BASE $TINY 2>&1 | tail -1
fi
$PY -m benchmarks.gpu.configs $BASE "$DATA" /tmp/gpu-checks/cfg
tp() { # name config methods seconds
  log "throughput $1"; timeout $(left $4) $PY -m benchmarks.train_throughput --config /tmp/gpu-checks/cfg/$2.yaml \
    --steps 0 --methods $3 --val-fraction 0 --out $R/tp_$1.json > $R/tp_$1.log 2>&1; echo "rc=$?"
  tail -6 $R/tp_$1.log | cut -c1-600; pack; }
tp b8 b8 lora 100
tp qlora qlora lora 100
for c in deepspeed_zero2 deepspeed_zero3 fsdp; do
  log "accelerate launch, $c"; timeout $(left 90) $PY -m accelerate.commands.launch --num_processes 1 \
    --config_file medassist/finetune/configs/accelerate/$c.yaml --main_process_port 29511 \
    -m medassist.finetune.train --config /tmp/gpu-checks/cfg/b8.yaml --max-steps 3 --eval-every 3 \
    --val-fraction 0.03 --out /tmp/gpu-checks/run_$c > $R/$c.log 2>&1; echo "rc=$?"
  grep -v "it/s\]\|s/it\]" $R/$c.log | tail -3 | cut -c1-400
  cp /tmp/gpu-checks/run_$c/adapter/metrics.json $R/$c.metrics.json 2>/dev/null; pack
done
log "the fine-tuning tests"; timeout $(left 200) $PY -m pytest -q -rfE -n 6 --timeout 150 -p no:cacheprovider \
  tests/test_train_devices.py tests/test_finetune.py -k "not gguf and not train_memory" > $R/pytest.log 2>&1
echo "rc=$?"; tail -4 $R/pytest.log | cut -c1-300; pack
tp methods b8 ia3,prefix 150
tp shipped shipped lora 150
log done; pack
