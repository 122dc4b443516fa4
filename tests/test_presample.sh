#!/usr/bin/env bash
# tests/test_presample.sh -- `o1p presample` and `o1p generate` end to end on a random tiny
# model: the file does not depend on --slots or threads; a run cut short (--limit, SIGINT,
# SIGKILL, a torn last line, a lost block) and resumed gives the same bytes as an
# uninterrupted run; bad input fails clearly and loses nothing already written.
# Usage: tests/test_presample.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
work_in_temp
tiny_data data.jsonl 10 1-2
tiny_tokenizer data.jsonl
tiny_config cfg.json
tiny_model model cfg.json
ps() { "$O1P" presample --model model --data data.jsonl --k 3 --max-new 60 --temperature 1 --top-p 0.95 --quiet "$@"; }

# The reference: one uninterrupted run.
ps --out full.jsonl --slots 4
check "full run: header + 10 blocks of 3 samples and a summary" test "$(wc -l <full.jsonl)" -eq 41
check "slots 1 gives the same file" bash -c "$(declare -f ps); O1P='$O1P'; ps --out s1.jsonl --slots 1 && cmp s1.jsonl full.jsonl"
check "slots 16 and 2 threads give the same file" \
    bash -c "$(declare -f ps); O1P='$O1P'; OMP_NUM_THREADS=2 ps --out s16.jsonl --slots 16 && cmp s16.jsonl full.jsonl"

# The fields, checked by an independent reader.
check "fields consistent (lengths, summaries, stop tokens, truncation)" /usr/bin/python3 - full.jsonl <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
h = lines[0]
assert h["presample"] == 1 and h["k"] == 3 and h["n_problems"] == 10 and h["max_new"] == 60
assert h["length_counts"] == "solution"
vocab = json.load(open("tok.json"))
stops = {t["id"] for t in vocab["added_tokens"] if t["content"] in ("<|im_end|>", "<|endoftext|>")}
i, finished, truncated = 1, 0, 0
for p in range(10):
    block = lines[i:i + 4]; i += 4
    for j, s in enumerate(block[:3]):
        assert s["problem"] == p and s["sample"] == j
        ends = s["ids"][-1] in stops
        assert s["length"] == len(s["ids"]) - ends and 1 <= len(s["ids"]) <= 60
        assert s["truncated"] == (not ends), s
        assert not any(t in stops for t in s["ids"][:-1])
        assert s["truncated"] == (len(s["ids"]) == 60) or ends
        assert s["mean_logprob"] < 0 and s["correct"] in (True, False)
        finished += ends; truncated += not ends
    su = block[3]
    assert su["summary"] is True and su["problem"] == p and su["k"] == 3
    assert abs(su["mean_length"] - sum(s["length"] for s in block[:3]) / 3) < 1e-12
    assert abs(su["accuracy"] - sum(s["correct"] for s in block[:3]) / 3) < 1e-12
assert finished > 0 and truncated > 0, (finished, truncated)
EOF

# --limit, then the rest.
ps --out lim.jsonl --limit 4
check "--limit 4 writes 4 blocks" test "$(grep -c '"summary"' lim.jsonl)" -eq 4
ps --out lim.jsonl --limit 2
check "--limit below what is done changes nothing" test "$(grep -c '"summary"' lim.jsonl)" -eq 4
ps --out lim.jsonl --slots 3
check "--limit then resume == uninterrupted" cmp lim.jsonl full.jsonl
ps --out lim.jsonl
check "rerunning a complete file changes nothing" cmp lim.jsonl full.jsonl

# A torn last line, a block without its summary, a header alone, an empty file.
size=$(stat -c %s full.jsonl)
for cut in $((size / 2)) $((size - 1)) $((size - 30)); do
    head -c "$cut" full.jsonl >torn.jsonl
    ps --out torn.jsonl
    check "cut at byte $cut, resumed == uninterrupted" cmp torn.jsonl full.jsonl
done
head -n 15 full.jsonl >lost.jsonl  # header + 3 blocks + 2 samples of the 4th
ps --out lost.jsonl
check "a block without its summary is redone" cmp lost.jsonl full.jsonl
head -n 1 full.jsonl >hdr.jsonl
ps --out hdr.jsonl
check "a header alone is resumed" cmp hdr.jsonl full.jsonl
: >empty.jsonl
ps --out empty.jsonl
check "an empty file is started over" cmp empty.jsonl full.jsonl

# Killed midway (SIGKILL: no chance to clean up; SIGINT: a clean stop), then resumed.
for sig in KILL INT; do
    rm -f killed.jsonl
    "$O1P" presample --model model --data data.jsonl --k 3 --max-new 60 --temperature 1 --top-p 0.95 --quiet \
        --out killed.jsonl --slots 2 &
    pid=$!
    sleep 0.15
    kill -s "$sig" "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [ "$sig" = INT ]; then check "SIGINT exits 130 (or 0 if already done): $rc" test "$rc" -eq 130 -o "$rc" -eq 0; fi
    ps --out killed.jsonl
    check "SIG$sig midway, resumed == uninterrupted" cmp killed.jsonl full.jsonl
done

# Bad input: clear errors; an existing file is never damaged.
cp full.jsonl keep.jsonl
expect_fail "other settings on resume" 1 "was written with another k" \
    "$O1P" presample --model model --data data.jsonl --k 4 --max-new 60 --temperature 1 --top-p 0.95 --out keep.jsonl
check "... the file is untouched" cmp keep.jsonl full.jsonl
if command -v flock >/dev/null; then
    expect_fail "a file another process is writing" 1 "another process" \
        flock keep.jsonl "$O1P" presample --model model --data data.jsonl --k 3 --max-new 60 --temperature 1 \
        --top-p 0.95 --out keep.jsonl
    check "... the file is untouched" cmp keep.jsonl full.jsonl
fi
head -n 20 full.jsonl >mid.jsonl
echo '{"problem": 4, "sample": 0, "length": oops' >>mid.jsonl
tail -n +21 full.jsonl >>mid.jsonl
cp mid.jsonl mid.orig
expect_fail "damaged middle line" 1 "line 21" ps --out mid.jsonl
check "... the file is untouched" cmp mid.jsonl mid.orig
expect_fail "k = 0" 2 "'--k' expects an integer in [1, 100000]" "$O1P" presample --model model --data data.jsonl --k 0 --out x.jsonl
check "... no file written" test ! -e x.jsonl
mkdir notok && cp model/config.json model/model.safetensors notok/
expect_fail "model folder without tokenizer.json" 1 "no tokenizer.json" \
    "$O1P" presample --model notok --data data.jsonl --k 2 --out x.jsonl
"$O1P" tok train --data data.jsonl --vocab 320 --out big.json >/dev/null
cp -r notok bigtok && cp big.json bigtok/tokenizer.json
expect_fail "tokenizer larger than the model's vocab" 1 "vocab_size is 300" \
    "$O1P" presample --model bigtok --data data.jsonl --k 2 --out x.jsonl
echo '{"problem": "What is 1+1?"}' >noans.jsonl
expect_fail "dataset without answers" 1 "noans.jsonl: line 1" \
    "$O1P" presample --model model --data noans.jsonl --k 2 --out x.jsonl
tiny_config short.json max_position_embeddings=64
tiny_model short short.json
expect_fail "prompt longer than the context" 1 "leaves no room" \
    "$O1P" presample --model short --data data.jsonl --k 2 --out x.jsonl
check "... no file written by any failed run" test ! -e x.jsonl
expect_fail "missing dataset" 1 "nope.jsonl" "$O1P" presample --model model --data nope.jsonl --k 2 --out x.jsonl

# generate: streams text, deterministic by seed; bad input.
check "generate greedy runs" "$O1P" generate --model model --problem "Start with 5." --max-new 20
g1=$("$O1P" generate --model model --problem "Start with 5." --max-new 30 --temperature 1 --seed 3 2>/dev/null)
g2=$("$O1P" generate --model model --problem "Start with 5." --max-new 30 --temperature 1 --seed 3 2>/dev/null)
g3=$("$O1P" generate --model model --problem "Start with 5." --max-new 30 --temperature 1 --seed 4 2>/dev/null)
check "generate: same seed, same text" test "$g1" = "$g2"
check "generate: another seed, another text" test "$g1" != "$g3"
check "generate --raw runs" "$O1P" generate --model model --problem "We start with" --raw --max-new 10 --top-k 5
expect_fail "generate without tokenizer.json" 1 "no tokenizer.json" "$O1P" generate --model notok --problem hi
long=$(printf 'word %.0s' $(seq 1 80))
expect_fail "generate: prompt longer than the context" 1 "leaves no room" "$O1P" generate --model short --problem "$long"
expect_fail "generate: bad top-p" 2 "top-p" "$O1P" generate --model model --problem hi --top-p 0

summary
