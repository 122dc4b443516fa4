#!/usr/bin/env bash
# tests/test_grade_paper.sh -- `o1p grade` end to end: output order and format, the
# accuracy line, --grader, errors naming file and line. With the official grader at hand,
# also compares o1p's verdicts with it on the rewrite corpus of tests/test_grade.c:
#   O1P_PAPER_GRADER=DIR  a folder holding grader.py, math_normalize.py and utils.py of the
#                         official O1-Pruner code (o1_scripts/), run with a python3 that has
#                         sympy and pylatexenc ($PYTHON, python3 or /usr/bin/python3).
# Without it that part is skipped (said so on stdout).
# Usage: tests/test_grade_paper.sh BUILD_DIR
set -u
build=${1:-build}
test_grade=$(cd "$build/tests" 2>/dev/null && pwd)/test_grade
. tests/lib.sh "$build"
make_temp

cat >"$tmp/in.jsonl" <<'EOF2'
{"response": "so \\boxed{\\frac{1}{2}}.", "answer": "0.5"}
{"response": "no box at all", "answer": "5"}
{"response": "\\boxed{2/4}", "answer": "\\frac{1}{2}"}
{"response": "\\boxed{(x+1)^2}", "answer": "x^2+2x+1"}
EOF2
check "grade runs" "$O1P" grade --data "$tmp/in.jsonl" --out "$tmp/out.jsonl"
check "one output line per input line" test "$(wc -l <"$tmp/out.jsonl")" -eq 4
check "verdicts in order" bash -c "grep -c true '$tmp/out.jsonl' | grep -qx 2 && sed -n 2p '$tmp/out.jsonl' | grep -qF '\"extracted\": null, \"correct\": false' && sed -n 4p '$tmp/out.jsonl' | grep -qF 'true'"
check "accuracy on stdout" bash -c "'$O1P' grade --data '$tmp/in.jsonl' --out '$tmp/o.jsonl' | grep -qx 'accuracy 0.5000 (2 of 4)'"
check "lenient: 2/4 is 1/2, no sympy" bash -c "'$O1P' grade --grader lenient --data '$tmp/in.jsonl' --out '$tmp/l.jsonl' && sed -n 3p '$tmp/l.jsonl' | grep -q true && sed -n 4p '$tmp/l.jsonl' | grep -q false"
printf '{"response": "\\\\boxed{1}", "answer": "1"}\n{"response": "x"}\n' >"$tmp/bad.jsonl"
expect_fail "missing answer names file and line" 1 "bad.jsonl: line 2" "$O1P" grade --data "$tmp/bad.jsonl" --out "$tmp/b.jsonl"
check "no output file after an error" test ! -e "$tmp/b.jsonl"
printf '{"response": "x", "answer": "1"}\n{"response": \n' >"$tmp/broken.jsonl"
expect_fail "broken JSON names file and line" 1 "broken.jsonl: line 2" "$O1P" grade --data "$tmp/broken.jsonl" --out "$tmp/b.jsonl"
expect_fail "unknown grader" 2 "--grader must be paper or lenient" "$O1P" grade --grader sympy --data "$tmp/in.jsonl" --out "$tmp/b.jsonl"
expect_fail "missing file" 1 "nope.jsonl" "$O1P" grade --data "$tmp/nope.jsonl" --out "$tmp/b.jsonl"

# The official grader, where given: agreement on the rewrite corpus.
py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$p" -c 'import sympy, pylatexenc' 2>/dev/null; then py=$p; break; fi
done
if [ -z "${O1P_PAPER_GRADER:-}" ] || [ -z "$py" ] || [ ! -f "${O1P_PAPER_GRADER}/grader.py" ]; then
    echo "skipped: the comparison with the official grader (set O1P_PAPER_GRADER; needs sympy, pylatexenc)"
else
    "$test_grade" --corpus "$tmp/corpus.jsonl" >/dev/null
    "$O1P" grade --data "$tmp/corpus.jsonl" --out "$tmp/o1p.jsonl" >/dev/null
    "$py" - "$O1P_PAPER_GRADER" "$tmp/corpus.jsonl" >"$tmp/paper.txt" 2>/dev/null <<'EOF2'
import json, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[1])
from grader import grade_answer
from utils import extract_answer
for line in open(sys.argv[2]):
    r = json.loads(line)
    print(int(bool(grade_answer(extract_answer(r["response"]), r["answer"]))))
EOF2
    agree=$(paste -d' ' "$tmp/paper.txt" <(sed -E 's/.*"correct": (true|false).*/\1/; s/true/1/; s/false/0/' "$tmp/o1p.jsonl") |
        awk '$1 == $2 { a++ } END { printf "%d %d", a, NR }')
    echo "official grader vs o1p grade on the rewrite corpus: $agree (agreeing, total)"
    check "agreement >= 99.5%" awk -v a="${agree% *}" -v n="${agree#* }" 'BEGIN { exit !(n > 10000 && a >= 0.995 * n) }'
fi
summary
