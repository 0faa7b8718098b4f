#!/usr/bin/env bash
# The minidl command line as a user runs it: known answers, one-line errors with a non-zero
# exit, deterministic training, and eval agreeing with train. Usage: cli_test.sh path/to/minidl
set -u
minidl=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }

# expect_error NAME PHRASE -- ARGS: minidl ARGS must exit non-zero with one stderr line holding PHRASE.
expect_error() {
  local name=$1 phrase=$2
  shift 3
  if "$minidl" "$@" >"$work/out" 2>"$work/err"; then
    fail "$name: exited 0"
  elif ! grep -qF -- "$phrase" "$work/err"; then
    fail "$name: stderr lacks '$phrase': $(cat "$work/err")"
  elif [ "$(grep -c . "$work/err")" -ne 1 ]; then
    fail "$name: expected one error line, got: $(cat "$work/err")"
  else
    pass "$name"
  fi
}

# Words of cuRAND's Philox for seed 42, stream 0 (design document, section 6).
if [ "$("$minidl" rng --seed 42 --count 4 | tr '\n' ' ')" = "2632642643 2012563771 314527917 1463989207 " ]; then
  pass "rng known answer"
else
  fail "rng known answer"
fi

# The mask is keep iff word >= round(p * 2^32), recomputed here from the printed words.
"$minidl" rng --seed 9 --offset 6 --stream 2 --count 1000 > "$work/words"
"$minidl" rng --seed 9 --offset 6 --stream 2 --count 1000 --dropout 0.3 > "$work/mask"
awk 'BEGIN { t = int(0.3 * 4294967296 + 0.5) } { print ($1 >= t) ? 1 : 0 }' "$work/words" > "$work/expected"
if cmp -s "$work/mask" "$work/expected"; then pass "rng dropout mask"; else fail "rng dropout mask"; fi

expect_error "unknown option" "--bogus" -- train mlp --bogus
expect_error "dropout above 1" "outside [0, 1]" -- rng --dropout 1.5
expect_error "NaN learning rate" "--lr nan" -- train mlp --lr nan
expect_error "negative epochs" "--epochs -2" -- train mlp --epochs -2
expect_error "train dropout NaN" "outside [0, 1]" -- train mlp --dropout nan
expect_error "unknown model" "unknown model 'vgg'" -- train vgg
expect_error "unknown device" "unknown device 'tpu'" -- train mlp --device tpu
expect_error "unknown optimizer" "unknown --optimizer 'bogus': expected one of adamw, adam, sgd" -- train mlp --optimizer bogus
expect_error "missing dataset" "dataset-fashion-mnist" -- train mlp --data-dir "$work/nowhere"
expect_error "missing checkpoint" "$work/none.safetensors" -- eval --checkpoint "$work/none.safetensors"
printf 'not a safetensors file' > "$work/garbage.safetensors"
expect_error "corrupt checkpoint" "garbage.safetensors" -- eval --checkpoint "$work/garbage.safetensors"

# Two runs with one seed give the same numbers; eval of the saved model agrees with train.
for run in a b; do
  "$minidl" train mlp --epochs 2 --limit-train 3000 --seed 5 --out "$work/$run" > "$work/$run.log" 2>&1 ||
    fail "train run $run: $(tail -n 3 "$work/$run.log")"
done
strip_time() { sed -E 's/"seconds":[0-9.e+-]+//' "$1"; }
if [ -s "$work/a/metrics.jsonl" ] && [ "$(strip_time "$work/a/metrics.jsonl")" = "$(strip_time "$work/b/metrics.jsonl")" ] &&
   cmp -s "$work/a/model.safetensors" "$work/b/model.safetensors"; then
  pass "same seed, same metrics and weights"
else
  fail "same seed, same metrics and weights"
fi
train_acc=$(sed -n 's/^test accuracy //p' "$work/a.log")
eval_acc=$("$minidl" eval --checkpoint "$work/a/model.safetensors" | sed -n 's/^test accuracy //p')
if [ -n "$train_acc" ] && [ "$train_acc" = "$eval_acc" ]; then
  pass "eval reproduces train's test accuracy ($eval_acc)"
else
  fail "eval accuracy '$eval_acc' vs train '$train_acc'"
fi
"$minidl" train mlp --epochs 1 --limit-train 500 --seed 6 --out "$work/c" > /dev/null 2>&1
if ! cmp -s "$work/a/model.safetensors" "$work/c/model.safetensors"; then pass "another seed, other weights"; else fail "another seed, other weights"; fi

# Every optimizer the help lists trains: one short epoch each, with a finite loss.
for opt in $("$minidl" train --help | sed -n 's/.*--optimizer.*one of //p' | tr -d ','); do
  if "$minidl" train mlp --optimizer "$opt" --epochs 1 --limit-train 256 --limit-test 100 --batch-size 64 \
       > "$work/opt-$opt.log" 2>&1 && grep -qE 'train loss [0-9]+[.][0-9]+' "$work/opt-$opt.log"; then
    pass "train with --optimizer $opt"
  else
    fail "train with --optimizer $opt: $(tail -n 2 "$work/opt-$opt.log")"
  fi
done

# The CUDA kernels, run by the SIMT emulator, train the same models: the loss curve matches the
# CPU's within fp32 reordering (GEMM and reductions sum in another order).
losses() { sed -n 's/.*train loss \([0-9.]*\)  test loss \([0-9.]*\).*/\1 \2/p' "$1"; }
for run in "mlp --limit-train 384 --limit-test 200" "cnn --limit-train 64 --limit-test 32"; do
  model=${run%% *}
  for dev in cpu cuda-emu; do
    # shellcheck disable=SC2086
    "$minidl" train $run --device "$dev" --epochs 2 --batch-size 32 --seed 4 \
      > "$work/dev-$model-$dev.log" 2>&1 || fail "train $model on $dev: $(tail -n 2 "$work/dev-$model-$dev.log")"
  done
  cpu_log="$work/dev-$model-cpu.log" emu_log="$work/dev-$model-cuda-emu.log"
  if [ "$(losses "$cpu_log" | wc -l)" -eq 2 ] &&
     paste <(losses "$cpu_log") <(losses "$emu_log") |
       awk '{ for (i = 1; i <= 2; i++) if ($i - $(i + 2) > 2e-4 || $(i + 2) - $i > 2e-4) bad = 1 } END { exit bad }'; then
    pass "$model: cuda-emu loss curve matches cpu ($(losses "$emu_log" | tr '\n' ' '))"
  else
    fail "$model: cuda-emu loss curve: cpu $(losses "$cpu_log" | tr '\n' ' ') vs cuda-emu $(losses "$emu_log" | tr '\n' ' ')"
  fi
done
if ! nvidia-smi -L > /dev/null 2>&1; then
  expect_error "cuda without a GPU" "device cuda:" -- train mlp --device cuda --epochs 1
fi

# Every schedule the help lists trains: one short epoch each, with a finite loss.
for sched in $("$minidl" train --help | sed -n 's/.*--schedule.*one of //p' | tr -d ','); do
  if "$minidl" train mlp --schedule "$sched" --epochs 1 --limit-train 256 --limit-test 100 --batch-size 64 \
       > "$work/sched-$sched.log" 2>&1 && grep -qE 'train loss [0-9]+[.][0-9]+' "$work/sched-$sched.log"; then
    pass "train with --schedule $sched"
  else
    fail "train with --schedule $sched: $(tail -n 2 "$work/sched-$sched.log")"
  fi
done
expect_error "unknown schedule" "unknown --schedule 'bogus': expected one of cosine, constant, step, exponential, onecycle" \
  -- train mlp --schedule bogus

# Every dropout variant the help lists trains the MLP (--dropout NAME:p), and dropconnect.
for variant in $("$minidl" train --help | tr -d '\n' | sed -n 's/.*dropout variant after each hidden layer (one of \([^,]*\(, [^,]*\)*\), or dropconnect.*/\1/p' | tr -d ',') dropconnect; do
  if "$minidl" train mlp --dropout "$variant:0.2" --epochs 1 --limit-train 256 --limit-test 100 --batch-size 64 \
       > "$work/drop-$variant.log" 2>&1 && grep -qE 'train loss [0-9]+[.][0-9]+' "$work/drop-$variant.log"; then
    pass "train with --dropout $variant:0.2"
  else
    fail "train with --dropout $variant:0.2: $(tail -n 2 "$work/drop-$variant.log")"
  fi
done
expect_error "unknown dropout variant" "unknown dropout variant 'nope'" -- train mlp --dropout nope:0.1
expect_error "dropout spec p above 1" "outside [0, 1]" -- train mlp --dropout alpha:1.5
# p = 1 trains (zeros pass, gradients are zero) but says once that no signal passes.
if "$minidl" train mlp --dropout 1 --epochs 1 --limit-train 256 --limit-test 100 --batch-size 64 \
     > "$work/p1.out" 2> "$work/p1.err" && [ "$(grep -c 'no signal passes' "$work/p1.err")" -eq 1 ]; then
  pass "train with --dropout 1 warns once"
else
  fail "train with --dropout 1 warns once: $(cat "$work/p1.err")"
fi

# The standard and the 1-bit-mask dropout draw the same masks: identical training.
for variant in dropout dropout-packed; do
  "$minidl" train mlp --dropout "$variant:0.3" --epochs 1 --limit-train 500 --limit-test 200 --seed 8 \
    --out "$work/mask-$variant" > /dev/null 2>&1
done
# (The model files differ in their metadata, which names the variant: compare the metrics.)
if [ -s "$work/mask-dropout/metrics.jsonl" ] &&
   [ "$(strip_time "$work/mask-dropout/metrics.jsonl")" = "$(strip_time "$work/mask-dropout-packed/metrics.jsonl")" ]; then
  pass "dropout and dropout-packed train identically"
else
  fail "dropout and dropout-packed differ: $(strip_time "$work/mask-dropout/metrics.jsonl") vs $(strip_time "$work/mask-dropout-packed/metrics.jsonl")"
fi

# --tensorboard writes an event file holding every tag (TensorBoard.* in minidl_tests decodes the
# format itself) and changes nothing in training; a directory that cannot be created is a one-line
# error naming it.
tiny=(--limit-train 256 --limit-test 128 --epochs 1 --log-every 1 --seed 2)
"$minidl" train mlp "${tiny[@]}" --out "$work/no-tb" > /dev/null 2>&1
if "$minidl" train mlp "${tiny[@]}" --out "$work/with-tb" --tensorboard "$work/tb" > "$work/tb.log" 2>&1; then
  events=$(find "$work/tb" -name 'events.out.tfevents.*' | head -n 1)
  missing=""
  for tag in brain.Event:2 train/loss train/lr train/grad_norm train/dropout_keep_rate test/loss test/accuracy; do
    grep -qaF "$tag" "$events" 2>/dev/null || missing="$missing $tag"
  done
  if [ -n "$events" ] && [ -z "$missing" ]; then
    pass "train --tensorboard writes $(basename "$events") with every tag"
  else
    fail "train --tensorboard: event file '$events' lacks:$missing"
  fi
  if [ -s "$work/no-tb/metrics.jsonl" ] &&
     [ "$(strip_time "$work/no-tb/metrics.jsonl")" = "$(strip_time "$work/with-tb/metrics.jsonl")" ] &&
     cmp -s "$work/no-tb/model.safetensors" "$work/with-tb/model.safetensors"; then
    pass "train --tensorboard trains bit for bit like a run without it"
  else
    fail "train --tensorboard changes training"
  fi
else
  fail "train --tensorboard: $(tail -n 2 "$work/tb.log")"
fi
expect_error "tensorboard directory under a file" "cannot create the TensorBoard directory $work/garbage.safetensors/tb" \
  -- train mlp --epochs 1 --limit-train 100 --tensorboard "$work/garbage.safetensors/tb"

# Regularizers from --reg, all at once, train; bad specs are one-line errors.
if "$minidl" train mlp --epochs 2 --limit-train 500 --limit-test 200 --reg l2:1e-4 --reg max-norm:3 \
     --reg label-smoothing:0.1 --reg activation-l1:1e-5 --reg weight-noise:0.01 --reg input-noise:0.05 \
     --reg l1:1e-6 --reg weight-decay:1e-4 --reg early-stopping:3 --reg tie:layers.0.bias,layers.3.bias \
     > "$work/reg.log" 2>&1 && grep -q '^test accuracy' "$work/reg.log"; then
  pass "train with every --reg"
else
  fail "train with every --reg: $(tail -n 2 "$work/reg.log")"
fi
expect_error "unknown regularizer" "unknown regularizer 'bogus'" -- train mlp --reg bogus:1
expect_error "regularizer argument" "'x' is not a number" -- train mlp --reg l2:x
expect_error "tie unknown parameter" "no parameter 'nope'" -- train mlp --epochs 1 --limit-train 100 --reg tie:layers.0.bias,nope

# The convolutional models train (a few batches each) with their options, and eval reloads them.
for spec in "cnn --dropout dropblock:0.1" "cnn --dropout dropout2d:0.1 --augment" \
            "resnet20 --stochastic-depth 0.2 --dropout dropblock:0.1 --augment"; do
  name=$(echo "$spec" | tr ' :.' '___')
  # shellcheck disable=SC2086
  if "$minidl" train $spec --epochs 1 --limit-train 128 --limit-test 64 --batch-size 64 --out "$work/$name" \
       > "$work/$name.log" 2>&1 && grep -qE 'train loss [0-9]+[.][0-9]+' "$work/$name.log" &&
     [ "$(sed -n 's/^test accuracy //p' "$work/$name.log")" = \
       "$("$minidl" eval --checkpoint "$work/$name/model.safetensors" --limit-test 64 2>/dev/null | sed -n 's/^test accuracy //p')" ]; then
    pass "train $spec (and eval agrees)"
  else
    fail "train $spec: $(tail -n 2 "$work/$name.log")"
  fi
done
expect_error "mlp with a feature-map variant" "is for convolutional feature maps" -- train mlp --dropout dropblock:0.1
expect_error "stochastic depth on the mlp" "--stochastic-depth applies to resnet20 and resnet18" -- train mlp --stochastic-depth 0.1

# MC dropout: T stochastic passes per image; with one seed the report is reproducible, and it
# prints accuracy, entropy and variance.
"$minidl" eval --checkpoint "$work/a/model.safetensors" --mc-samples 4 --seed 1 > "$work/mc1.log" 2>&1
"$minidl" eval --checkpoint "$work/a/model.safetensors" --mc-samples 4 --seed 1 > "$work/mc2.log" 2>&1
if grep -q '^predictive entropy [0-9.]* nats' "$work/mc1.log" && grep -q '^test accuracy 0[.][0-9]*' "$work/mc1.log" &&
   cmp -s "$work/mc1.log" "$work/mc2.log"; then
  pass "eval --mc-samples ($(sed -n 's/^test accuracy //p' "$work/mc1.log"))"
else
  fail "eval --mc-samples: $(cat "$work/mc1.log")"
fi
expect_error "negative mc samples" "--mc-samples -1" -- eval --checkpoint "$work/a/model.safetensors" --mc-samples -1

# The tensors whose bytes differ between two safetensors files (to explain a failed cmp).
tensor_diff() {
  python3 - "$1" "$2" <<'PY' 2>&1 || true
import json, struct, sys
def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items()}, meta
(a, ma), (b, mb) = tensors(sys.argv[1]), tensors(sys.argv[2])
print("differing tensors:", sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)), "metadata same:", ma == mb)
PY
}

# Resume is bit-exact: 24 steps straight (3 epochs of 8 batches) versus 12 steps, stop, and a new
# process resuming from the checkpoint (in the middle of epoch 2) to the end. Both runs end with
# the same bytes in checkpoint.safetensors (parameters, optimizer state, generator states) and
# model.safetensors, and the same metrics: every step's loss and lr, every epoch's losses.
small=(--epochs 3 --limit-train 1000 --limit-test 500 --batch-size 125 --seed 3 --log-every 1 --checkpoint-every 5)
"$minidl" train mlp "${small[@]}" --out "$work/straight" > "$work/straight.log" 2>&1 ||
  fail "straight run: $(tail -n 2 "$work/straight.log")"
"$minidl" train mlp "${small[@]}" --stop-after-steps 12 --out "$work/resumed" \
  > "$work/resumed-1.log" 2>&1 || fail "run stopped at step 12: $(tail -n 2 "$work/resumed-1.log")"
cp -r "$work/resumed" "$work/legacy"
"$minidl" train --resume "$work/resumed" > "$work/resumed-2.log" 2>&1 ||
  fail "resumed run: $(tail -n 2 "$work/resumed-2.log")"
if grep -q "^stopped after step 12" "$work/resumed-1.log" && grep -q "resuming .* at epoch 2, step 12" "$work/resumed-2.log" &&
   [ "$(grep -c '"loss"' "$work/straight/metrics.jsonl")" -eq 24 ] &&
   [ "$(strip_time "$work/straight/metrics.jsonl")" = "$(strip_time "$work/resumed/metrics.jsonl")" ] &&
   cmp -s "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors" &&
   cmp -s "$work/straight/model.safetensors" "$work/resumed/model.safetensors"; then
  pass "stop at step 12 and resume in a new process: same checkpoint, model and metrics bytes as straight"
else
  fail "resume is not bit-exact: $(tensor_diff "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors");\
 metrics: $(diff <(strip_time "$work/straight/metrics.jsonl") <(strip_time "$work/resumed/metrics.jsonl") | head -n 4)"
fi
# A checkpoint written before --precision existed has no "precision" in its config: it resumes as
# the f32 run it was, to the same bytes.
python3 - "$work/legacy/checkpoint.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = json.loads(header["__metadata__"]["minidl_checkpoint"])
del meta["config"]["precision"]
header["__metadata__"]["minidl_checkpoint"] = json.dumps(meta)
head = json.dumps(header).encode()
head += b" " * (-len(head) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(head)) + head + raw[8 + n:])
PY
if ! grep -q '\\"precision\\"' "$work/legacy/checkpoint.safetensors" &&
   "$minidl" train --resume "$work/legacy" > "$work/legacy.log" 2>&1 &&
   cmp -s "$work/straight/checkpoint.safetensors" "$work/legacy/checkpoint.safetensors" &&
   cmp -s "$work/straight/model.safetensors" "$work/legacy/model.safetensors"; then
  pass "a checkpoint without --precision in its config resumes as f32"
else
  fail "resume of a checkpoint without precision: $(tail -n 2 "$work/legacy.log")"
fi
# A finished run resumes to nothing, or to more epochs; config flags that disagree are refused.
if "$minidl" train --resume "$work/straight" 2>&1 | grep -q "nothing to train"; then
  pass "resume of a finished run"
else
  fail "resume of a finished run"
fi
if "$minidl" train --resume "$work/straight" --epochs 4 > "$work/extend.log" 2>&1 &&
   grep -q "resuming .* at epoch 4, step 24" "$work/extend.log" && grep -q '"epoch":4,' "$work/straight/metrics.jsonl" &&
   [ "$(grep -c '"train_loss"' "$work/straight/metrics.jsonl")" -eq 4 ]; then
  pass "resume with a larger --epochs extends the run"
else
  fail "resume with a larger --epochs: $(tail -n 2 "$work/extend.log")"
fi
expect_error "resume with a conflicting flag" "--lr 0.01 conflicts with the checkpoint $work/resumed/checkpoint.safetensors" \
  -- train --resume "$work/resumed" --lr 0.01
expect_error "resume with another precision" "--precision \"bf16\" conflicts with the checkpoint" \
  -- train --resume "$work/resumed" --precision bf16
# bf16 autocast for the classifiers too, on the emulated CUDA device.
if "$minidl" train mlp --epochs 1 --limit-train 256 --limit-test 128 --device cuda-emu --precision bf16 \
     --out "$work/mlp-bf16" > "$work/mlp-bf16.log" 2>&1 && grep -q "bf16 precision" "$work/mlp-bf16.log" &&
   grep -q "^test accuracy" "$work/mlp-bf16.log"; then
  pass "train mlp --precision bf16 --device cuda-emu"
else
  fail "train mlp --precision bf16: $(tail -n 2 "$work/mlp-bf16.log")"
fi
# The other models and the dropout variants whose masks or noise meet bf16 activations, one short
# run each: every op on their paths takes bf16 or widens it (framework/ops/autocast.h).
for spec in "cnn --epochs 1 --limit-train 64 --limit-test 32 --dropout dropblock:0.1" \
            "resnet20 --epochs 1 --limit-train 32 --limit-test 16 --stochastic-depth 0.2" \
            "mlp --epochs 1 --limit-train 256 --limit-test 128 --dropout concrete:0.2 --reg activation-l1:1e-4" \
            "mlp --epochs 1 --limit-train 256 --limit-test 128 --dropout dropconnect:0.2" \
            "lstm --steps 4 --eval-every 2 --eval-windows 2 --batch-size 4 --context 16 --layers 2 --width 16" \
            "gat --graph karate --epochs 3" "sage --graph karate --epochs 3"; do
  name=bf16_$(echo "$spec" | tr ' :.' '___')
  # shellcheck disable=SC2086
  if "$minidl" train $spec --device cuda-emu --precision bf16 --out "$work/$name" > "$work/$name.log" 2>&1 &&
     grep -q "bf16 precision" "$work/$name.log" && grep -qE '^(test accuracy|validation loss) [0-9.]+' "$work/$name.log"; then
    pass "train $spec --precision bf16 --device cuda-emu"
  else
    fail "train $spec --precision bf16: $(tail -n 2 "$work/$name.log")"
  fi
done
# Evaluation under autocast: the bf16 run's model on the same images, within a point of f32.
f32_acc=$("$minidl" eval --checkpoint "$work/mlp-bf16/model.safetensors" --limit-test 128 --device cuda-emu 2>/dev/null |
  sed -n 's/^test accuracy //p')
bf16_acc=$("$minidl" eval --checkpoint "$work/mlp-bf16/model.safetensors" --limit-test 128 --device cuda-emu \
  --precision bf16 2>/dev/null | sed -n 's/^test accuracy //p')
if [ -n "$f32_acc" ] && [ -n "$bf16_acc" ] &&
   awk -v a="$f32_acc" -v b="$bf16_acc" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'; then
  pass "eval --precision bf16 (accuracy $bf16_acc, f32 $f32_acc)"
else
  fail "eval --precision bf16: '$bf16_acc' against f32 '$f32_acc'"
fi
expect_error "eval bf16 on the CPU" "--precision bf16 runs on a CUDA device" -- \
  eval --checkpoint "$work/mlp-bf16/model.safetensors" --precision bf16 --device cpu
expect_error "mf bf16" "--precision does not apply to mf: its model has no matmul" -- train mf --precision bf16
expect_error "mlp bf16 on the CPU" "--precision bf16 runs on a CUDA device" -- train mlp --precision bf16 --device cpu
expect_error "resume with fewer epochs" "--epochs 2 would shorten the run" -- train --resume "$work/resumed" --epochs 2
expect_error "resume without a checkpoint" "$work/nowhere/checkpoint.safetensors" -- train --resume "$work/nowhere"
mkdir -p "$work/torn"
head -c 5000 "$work/resumed/checkpoint.safetensors" > "$work/torn/checkpoint.safetensors"
expect_error "resume from a truncated checkpoint" "$work/torn/checkpoint.safetensors" -- train --resume "$work/torn"
mkdir -p "$work/model-only"
cp "$work/straight/model.safetensors" "$work/model-only/checkpoint.safetensors"
expect_error "resume from a model file" "not a minidl training checkpoint" -- train --resume "$work/model-only"
expect_error "stop without --out" "need --out DIR" -- train mlp --stop-after-steps 3

# A truncated checkpoint is refused and leaves nothing half-written behind.
head -c 1000 "$work/a/model.safetensors" > "$work/truncated.safetensors"
expect_error "truncated checkpoint" "truncated.safetensors" -- eval --checkpoint "$work/truncated.safetensors"

# The character GPT: a tiny run beats nothing yet but must train, save, and sample deterministically.
gpt_args=(train gpt --steps 6 --eval-every 3 --eval-windows 4 --batch-size 4 --context 16 --layers 1 --heads 2 --width 16)
if "$minidl" "${gpt_args[@]}" --out "$work/gpt" > "$work/gpt.log" 2>&1 &&
  grep -q "^validation loss [0-9.]* nats per character (unigram baseline 3.3756)" "$work/gpt.log" &&
  [ -s "$work/gpt/model.safetensors" ]; then
  pass "train gpt"
else
  fail "train gpt: $(tail -n 3 "$work/gpt.log")"
fi
"$minidl" sample --checkpoint "$work/gpt/model.safetensors" --prompt "Q:" --length 40 --seed 3 > "$work/s1" 2>&1
"$minidl" sample --checkpoint "$work/gpt/model.safetensors" --prompt "Q:" --length 40 --seed 3 > "$work/s2" 2>&1
if [ "$(head -c 2 "$work/s1")" = "Q:" ] && [ "$(wc -c < "$work/s1")" -ge 43 ] && cmp -s "$work/s1" "$work/s2"; then
  pass "sample: the prompt, 40 characters, the same text for the same seed"
else
  fail "sample: $(cat "$work/s1")"
fi
"$minidl" sample --checkpoint "$work/gpt/model.safetensors" --prompt "Q:" --length 40 --seed 3 --device cuda-emu \
  --precision bf16 > "$work/s3" 2>&1
if [ "$(head -c 2 "$work/s3")" = "Q:" ] && [ "$(wc -c < "$work/s3")" -ge 43 ]; then
  pass "sample --precision bf16 --device cuda-emu"
else
  fail "sample --precision bf16: $(cat "$work/s3")"
fi
# The fused attention (flash_attention) instead of matmul, softmax_dropout, matmul.
if "$minidl" "${gpt_args[@]}" --attention fused --out "$work/gpt-fused" > "$work/gpt-fused.log" 2>&1 &&
  grep -q "fused attention" "$work/gpt-fused.log" && grep -q "^validation loss [0-9.]* nats" "$work/gpt-fused.log"; then
  pass "train gpt --attention fused"
else
  fail "train gpt --attention fused: $(tail -n 3 "$work/gpt-fused.log")"
fi
# bf16 autocast on the emulated CUDA device: the same run in mixed precision, logged as such.
if "$minidl" "${gpt_args[@]}" --device cuda-emu --precision bf16 > "$work/gpt-bf16.log" 2>&1 &&
  grep -q "bf16 precision" "$work/gpt-bf16.log" && grep -q "^validation loss [0-9.]* nats" "$work/gpt-bf16.log"; then
  pass "train gpt --precision bf16 --device cuda-emu"
else
  fail "train gpt --precision bf16 --device cuda-emu: $(tail -n 3 "$work/gpt-bf16.log")"
fi
expect_error "gpt bf16 on the CPU" "--precision bf16 runs on a CUDA device (cuda, cuda-emu), but --device cpu is the CPU" -- train gpt --precision bf16 --device cpu
expect_error "gpt unknown precision" "unknown --precision 'fp16': expected f32 or bf16" -- train gpt --precision fp16
expect_error "gpt unknown attention" "unknown --attention 'flash': expected fused or reference" -- train gpt --attention flash
expect_error "gpt attention for lstm" "--attention applies to gpt, not lstm" -- train lstm --attention reference
expect_error "gpt heads not dividing the width" "width 16 is not divisible by heads = 3" -- train gpt --width 16 --heads 3
expect_error "gpt missing corpus" "install the Debian package fortunes" -- train gpt --data-dir "$work/nowhere"
expect_error "lm option for a classifier" "apply to gpt and lstm, not mlp" -- train mlp --steps 5
expect_error "sample from a classifier" "not a language model file" -- sample --checkpoint "$work/a/model.safetensors"
expect_error "sample with a byte outside the vocabulary" "not in the model's vocabulary" -- sample --checkpoint "$work/gpt/model.safetensors" --prompt $'\x01'
expect_error "sample temperature 0" "temperature = 0" -- sample --checkpoint "$work/gpt/model.safetensors" --temperature 0

# The LSTM LM through the same loop, every dropout site and zoneout on: a tiny run trains, saves
# and samples; the same seed gives the same losses and weights.
lstm_args=(train lstm --steps 6 --eval-every 3 --eval-windows 4 --batch-size 4 --context 16 --layers 2 --width 16
           --embedding-size 8 --embedding-dropout 0.1 --input-dropout 0.1 --recurrent-dropout 0.2 --dropout 0.1
           --zoneout 0.1 --seed 4)
for run in a b; do
  "$minidl" "${lstm_args[@]}" --out "$work/lstm-$run" > "$work/lstm-$run.log" 2>&1 ||
    fail "train lstm run $run: $(tail -n 3 "$work/lstm-$run.log")"
done
if grep -q "^validation loss [0-9.]* nats per character (unigram baseline 3.3756)" "$work/lstm-a.log" &&
  [ -s "$work/lstm-a/model.safetensors" ]; then
  pass "train lstm"
else
  fail "train lstm: $(tail -n 3 "$work/lstm-a.log")"
fi
losses() { grep -o 'train loss [0-9.]*  validation loss [0-9.]*' "$1"; }
if [ -n "$(losses "$work/lstm-a.log")" ] && [ "$(losses "$work/lstm-a.log")" = "$(losses "$work/lstm-b.log")" ] &&
  cmp -s "$work/lstm-a/model.safetensors" "$work/lstm-b/model.safetensors"; then
  pass "train lstm: same seed, same losses and weights"
else
  fail "train lstm: same seed, same losses and weights"
fi
"$minidl" sample --checkpoint "$work/lstm-a/model.safetensors" --prompt "Q:" --length 30 --seed 3 > "$work/ls" 2>&1
if [ "$(head -c 2 "$work/ls")" = "Q:" ] && [ "$(wc -c < "$work/ls")" -ge 33 ]; then
  pass "sample from an lstm"
else
  fail "sample from an lstm: $(cat "$work/ls")"
fi
expect_error "gpt option for lstm" "--heads applies to gpt, not lstm" -- train lstm --heads 2
expect_error "lstm option for gpt" "--zoneout applies to lstm, not gpt" -- train gpt --zoneout 0.1
expect_error "lstm tied weights of unequal widths" "tied weights need the embedding width (8) to equal the LSTM width (16)" -- train lstm --width 16 --embedding-size 8 --tie-weights

# The recommender on synthetic ratings: a tiny run trains, prints its baselines and writes its
# files; the same seed gives the same metrics and weights.
mf_args=(train mf --users 60 --items 50 --density 0.3 --rank 4 --true-rank 2 --epochs 3 --batch-size 64
         --embedding-dropout 0.1 --seed 2)
for run in a b; do
  "$minidl" "${mf_args[@]}" --out "$work/mf-$run" > "$work/mf-$run.log" 2>&1 ||
    fail "train mf run $run: $(tail -n 3 "$work/mf-$run.log")"
done
if grep -qE '^test RMSE [0-9.]+ \(noise floor [0-9.]+, train-mean baseline [0-9.]+\)$' "$work/mf-a.log" &&
  [ "$(grep -c '"test_rmse"' "$work/mf-a/metrics.jsonl")" -eq 3 ] && [ -s "$work/mf-a/model.safetensors" ]; then
  pass "train mf"
else
  fail "train mf: $(tail -n 3 "$work/mf-a.log")"
fi
if [ "$(strip_time "$work/mf-a/metrics.jsonl")" = "$(strip_time "$work/mf-b/metrics.jsonl")" ] &&
  cmp -s "$work/mf-a/model.safetensors" "$work/mf-b/model.safetensors"; then
  pass "train mf: same seed, same metrics and weights"
else
  fail "train mf: same seed, same metrics and weights"
fi
expect_error "mf density above 1" "ratings: density = 1.5 is outside (0, 1]" -- train mf --density 1.5
expect_error "mf embedding dropout 1" "--embedding-dropout 1 is outside [0, 1)" -- train mf --embedding-dropout 1
expect_error "classifier option for mf" "--dropout does not apply to mf" -- train mf --dropout 0.1
expect_error "lm option for mf" "apply to gpt and lstm, not mf" -- train mf --steps 5
expect_error "mf option for a classifier" "apply to mf, not mlp" -- train mlp --users 10
expect_error "embedding dropout for a classifier" "--embedding-dropout applies to gpt, lstm and mf, not mlp" -- train mlp --embedding-dropout 0.1

# Graph models: GCN labels the karate club's factions from four members; a small CSBM run is
# deterministic and writes its files; bad edge lists and misplaced options get one-line errors.
if "$minidl" train gcn --graph karate --device cpu > "$work/karate.log" 2>&1 &&
  awk '/^test accuracy/ { ok = $3 >= 0.9 } END { exit !ok }' "$work/karate.log"; then
  pass "train gcn on the karate club (>= 0.9)"
else
  fail "train gcn on the karate club: $(tail -n 2 "$work/karate.log")"
fi
graph_args=(train gat --graph csbm:nodes=200,degree=6,features=8,homophily=0.9 --epochs 5 --heads 2 --hidden 4
            --drop-edge 0.2 --drop-node 0.1 --device cpu)
for run in a b; do
  "$minidl" "${graph_args[@]}" --out "$work/gat-$run" > "$work/gat-$run.log" 2>&1 ||
    fail "train gat run $run: $(tail -n 3 "$work/gat-$run.log")"
done
if grep -q '^test accuracy' "$work/gat-a.log" && [ -s "$work/gat-a/model.safetensors" ] &&
  cmp -s "$work/gat-a/model.safetensors" "$work/gat-b/model.safetensors"; then
  pass "train gat: same seed, same weights"
else
  fail "train gat: same seed, same weights"
fi
printf '0 1\n1 2\n2 7\n' > "$work/edges.txt"
printf '0\n1\n0\n' > "$work/labels.txt"
expect_error "graph edge out of range" "node id 7" -- train gcn --graph "files:edges=$work/edges.txt,labels=$work/labels.txt"
expect_error "graph spec key" "bogus" -- train gcn --graph csbm:bogus=1
expect_error "graph homophily" "homophily" -- train gcn --graph csbm:homophily=1.5
expect_error "drop-edge for node-mlp" "node-mlp has no edges to drop" -- train node-mlp --drop-edge 0.1
expect_error "heads for gcn" "--heads and --attention-dropout apply to gat, not gcn" -- train gcn --heads 2
expect_error "graph option for a classifier" "apply to gcn, gat, sage and node-mlp, not mlp" -- train mlp --graph karate
expect_error "graph drop-edge rate" "drop-edge = 1 must be in [0, 1)" -- train gcn --drop-edge 1

# minidl profile: a few steps, a table, a Chrome trace with the step, kernel and backward events. The
# tables hold the 2 steps after the warm-up (one optimizer step each), the trace all 3.
if "$minidl" profile mlp --steps 2 --limit-test 64 --trace "$work/trace.json" > "$work/profile.log" 2>&1 &&
  grep -q "^profile of 2 training steps of mlp on cpu: .* (after a warm-up step of" "$work/profile.log" &&
  grep -qE "^optimizer step +2 " "$work/profile.log" && grep -q '"traceEvents"' "$work/trace.json" &&
  [ "$(grep -o '"name":"train step"' "$work/trace.json" | wc -l)" -eq 3 ] &&
  grep -q '"cat":"backward"' "$work/trace.json"; then
  pass "profile mlp"
else
  fail "profile mlp: $(tail -n 3 "$work/profile.log")"
fi
expect_error "profile zero steps" "--steps 0 must be positive" -- profile mlp --steps 0
if "$minidl" bench ranges --repeats 3 | grep -q '"ranges_per_mlp_step"'; then pass "bench ranges"; else fail "bench ranges"; fi

# minidl lab: the list, one tiny experiment end to end (table, verdict, JSON), an unknown name.
if "$minidl" lab --list | grep -q "^expectation "; then pass "lab list"; else fail "lab list"; fi
if "$minidl" lab expectation --scale tiny --device cpu --out "$work/lab" > "$work/lab.log" 2>&1 &&
  grep -q "^verdict: " "$work/lab.log" && grep -q '"verdict"' "$work/lab/result.json" &&
  grep -q '"scale": "tiny"' "$work/lab/result.json"; then
  pass "lab expectation tiny"
else
  fail "lab expectation tiny: $(tail -n 3 "$work/lab.log")"
fi
expect_error "lab unknown experiment" "no experiment named 'nope'" -- lab nope

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
