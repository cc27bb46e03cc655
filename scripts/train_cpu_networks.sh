#!/usr/bin/env bash
# The networks shipped in results/trained/networks, trained on a 2-core CPU: one training per core, niced,
# each on one thread, bf16 autocast (native on AVX-512 BF16 CPUs) and torch.compile, which measured x1.62
# and x1.12 on top for ResNet-20 at batch 256 (benchmarks/cpu_speed.py --threads 1). Every run: the onecycle
# recipe (batch 256), 40 epochs, a 5,000-image validation split, seed 0, checkpoints after every epoch.
#
#   scripts/train_cpu_networks.sh 0 resnet20 plain20 plain56    # on core 0, one after another
#   scripts/train_cpu_networks.sh 1 resnet56                    # on core 1
#
# Re-running the same line resumes each unfinished run from its checkpoint (--resume) and skips finished
# ones, so an interrupted run ends as an uninterrupted one would. Runs go to checkpoints/cpu-NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
core=$1; shift
for model in "$@"; do
  out=checkpoints/cpu-$model
  if [ -f "$out/finished" ]; then echo "$model: finished before"; continue; fi
  resume=(); [ -f "$out/checkpoint.pt" ] && resume=(--resume)
  RESNET_LESSONS_CPU_BF16=1 nice -n 19 taskset -c "$core" python -m resnet_lessons train --model "$model" \
    --recipe onecycle --epochs 40 --val-size 5000 --seed 0 --device cpu --compile --no-progress \
    --out "$out" "${resume[@]}"
  touch "$out/finished"
done
