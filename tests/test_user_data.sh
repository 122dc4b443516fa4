#!/usr/bin/env bash
# tests/test_user_data.sh -- the pipeline on a user's dataset of another task family:
# `scripts/demo.sh quick` with TRAIN_DATA and TEST_DATA set to JSONL files of word
# reversals (problem, answer, solution; no levels, string answers), written here. Checks
# that every stage ran on them unchanged and that the outputs are well-formed: the
# plumbing, not the results.
# Usage: tests/test_user_data.sh BUILD_DIR   (O1P: the o1p binary)
set -u
. tests/lib.sh "${1:-build}"

make_temp o1p_user_data

# N problems "Reverse the letters of the word W." with an overthinking solution whose
# amount of re-checking varies, seeded by SEED (the Park-Miller generator, exact in awk).
words() {
    awk -v n="$1" -v seed="$2" 'BEGIN {
        split("stone river cloud maple tiger lemon piano candle garden silver window orange " \
              "planet rocket forest castle bridge mirror pencil jacket", w, " ")
        s = seed
        for (i = 0; i < n; i++) {
            s = (s * 16807) % 2147483647; word = w[1 + s % 20]
            s = (s * 16807) % 2147483647; extra = s % 3
            rev = ""; letters = ""; back = ""
            for (j = length(word); j >= 1; j--) rev = rev substr(word, j, 1)
            for (j = 1; j <= length(word); j++) letters = letters (j > 1 ? ", " : "") substr(word, j, 1)
            for (j = length(word); j >= 1; j--) back = back (j < length(word) ? ", " : "") substr(word, j, 1)
            sol = "The word is " word ". Its letters are " letters ".\\nReading them backwards: " back "."
            if (extra >= 1) sol = sol "\\nLet me check again: the last letter " substr(word, length(word), 1) " comes first. Yes."
            if (extra >= 2) sol = sol "\\nOnce more, letter by letter: " back ". Same."
            sol = sol "\\nThe answer is \\\\boxed{" rev "}."
            printf "{\"problem\": \"Reverse the letters of the word %s.\", \"answer\": \"%s\", \"solution\": \"%s\"}\n", word, rev, sol
        }
    }'
}
words 96 7 >"$tmp/train.jsonl"
words 12 11 >"$tmp/test.jsonl"
check "the generated dataset loads" "$O1P" data stats --data "$tmp/train.jsonl"

out=$tmp/results
log=$tmp/demo.log
TRAIN_DATA=$tmp/train.jsonl TEST_DATA=$tmp/test.jsonl O1P=$O1P bash scripts/demo.sh quick "$out" >"$log" 2>&1
rc=$?
check "demo quick on the user's data exits 0 (log: last lines below)" test $rc -eq 0
[ $rc -eq 0 ] || tail -n 30 "$log"
work=$out/work
check "the user's training file was used, not synthetic data" cmp "$tmp/train.jsonl" "$work/train.jsonl"
check "the user's test file was used" cmp "$tmp/test.jsonl" "$work/test.jsonl"
for s in data sft eval_ref presample prune_o1-pruner prune_sft-shortest prune_dpo eval_o1-pruner \
    eval_sft-shortest eval_dpo; do
    check "stage $s completed" test -f "$work/$s.done"
done
check "eval files: 12 graded problems each, string answers extracted" python3 -c "
import json
for n in ('ref', 'o1-pruner', 'sft-shortest', 'dpo'):
    d = json.load(open('$work/eval_%s.json' % n))
    assert d['n_problems'] == 12 and len(d['problems']) == 12, n
    assert all(p['correct'] in (0, 1) and p['length'] > 0 for p in d['problems']), n"
check "the table has the reference and the three runs" python3 -c "
t = open('$out/table.md').read()
for n in ('reference', 'o1-pruner', 'sft-shortest', 'dpo'): assert '| ' + n + ' |' in t, n"
check "levels.png and curves.png are PNG files" python3 -c "
for f in ('levels', 'curves'): assert open('$out/%s.png' % f, 'rb').read(8) == b'\x89PNG\r\n\x1a\n', f"

summary
