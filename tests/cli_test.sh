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

# The CUDA kernels, run by the SIMT emulator, train the same model: the loss curve matches the
# CPU's within fp32 reordering (GEMM and reductions sum in another order).
for dev in cpu cuda-emu; do
  "$minidl" train mlp --device "$dev" --epochs 2 --limit-train 384 --limit-test 200 --batch-size 64 --seed 4 \
    > "$work/dev-$dev.log" 2>&1 || fail "train on $dev: $(tail -n 2 "$work/dev-$dev.log")"
done
losses() { sed -n 's/.*train loss \([0-9.]*\)  test loss \([0-9.]*\).*/\1 \2/p' "$1"; }
if [ "$(losses "$work/dev-cpu.log" | wc -l)" -eq 2 ] &&
   paste <(losses "$work/dev-cpu.log") <(losses "$work/dev-cuda-emu.log") |
     awk '{ for (i = 1; i <= 2; i++) if ($i - $(i + 2) > 2e-4 || $(i + 2) - $i > 2e-4) bad = 1 } END { exit bad }'; then
  pass "cuda-emu loss curve matches cpu ($(losses "$work/dev-cuda-emu.log" | tr '\n' ' '))"
else
  fail "cuda-emu loss curve: cpu $(losses "$work/dev-cpu.log" | tr '\n' ' ') vs cuda-emu $(losses "$work/dev-cuda-emu.log" | tr '\n' ' ')"
fi
if ! nvidia-smi -L > /dev/null 2>&1; then
  expect_error "cuda without a GPU" "device cuda:" -- train mlp --device cuda --epochs 1
fi

# A truncated checkpoint is refused and leaves nothing half-written behind.
head -c 1000 "$work/a/model.safetensors" > "$work/truncated.safetensors"
expect_error "truncated checkpoint" "truncated.safetensors" -- eval --checkpoint "$work/truncated.safetensors"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
