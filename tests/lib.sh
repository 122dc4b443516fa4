# tests/lib.sh -- what the shell tests share; sourced as `. tests/lib.sh "$1"` from the
# repository root, with BUILD_DIR as the argument.
#   O1P      the binary under test, absolute (the tests cd into temporary folders):
#            $O1P if set, else BUILD_DIR/o1p
#   check    description command...: runs the command quietly, counts a pass or a
#            failure (printed as FAIL: description)
#   expect_fail  description code message command...: the command must exit with code
#            and print message (on stdout or stderr); counts a pass or a failure
#   summary  prints "N passed, N failed"; returns non-zero when anything failed
#   fresh_make  make ARGS... without what a parent make passes down
O1P=${O1P:-${1:-build}/o1p}
O1P=$(cd "$(dirname "$O1P")" && pwd)/$(basename "$O1P")
pass=0
fail=0
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what"
    fi
}
expect_fail() {
    local what=$1 code=$2 msg=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -qF -- "$msg" <<<"$out"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what: expected exit $code and '$msg', got exit $rc: $(head -c 400 <<<"$out")"
    fi
}
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# A fresh make: under `make test-asan` the parent's BUILD/OPT/SAN reach us twice, in
# MAKEFLAGS and (as variables set on make's command line) in the environment; either would
# build another build folder with the sanitizers, and a later plain `make test` would then
# fail to link those instrumented objects.
fresh_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u OPT -u SAN make "$@"; }

# ---- set-up shared by the tests on a tiny random model ------------------------------
#   make_temp [NAME]   $tmp: a new temporary folder (/tmp/NAME.XXXXXX when named), removed
#                      at exit
#   work_in_temp       make_temp, then cd into $tmp
#   passive_threads [N]  OpenMP threads that sleep while waiting (the machine is shared:
#                      spinning ones slow a loaded box down tenfold); N threads, default
#                      $OMP_NUM_THREADS or 1
#   setup command...   runs an o1p set-up step quietly; on failure prints it, the summary
#                      line and exits 1
#   tiny_data FILE N LEVELS [SEED]  N problems of `o1p data synth` at LEVELS
#   tiny_tokenizer DATA [VOCAB] tok.json: a BPE of VOCAB (300) tokens trained on DATA
#   tiny_config FILE [KEY=VALUE...]  a tiny Llama's config.json (vocab 300, width 32, 2
#                      layers, context 256), KEYs set to VALUEs (JSON; a bare word is a string)
#   tiny_model DIR CONFIG [SEED]  `o1p init` of CONFIG with tok.json into DIR
#   tiny_qwen2_run     the set-up of the end-to-end training tests: data.jsonl (24
#                      problems of level 1, seed 3), tok.json, cfg.json and model/: a 3-layer
#                      Qwen2 (GQA, biases, untied head) with random weights
#   need_node_modules PACKAGE  the npm package of tests/node (make deps) is there, else the
#                      test fails (it never skips)
make_temp() {
    tmp=$(mktemp -d ${1:+"/tmp/$1.XXXXXX"})
    trap 'rm -rf "$tmp"' EXIT
}
work_in_temp() {
    make_temp
    cd "$tmp" || exit 1
}
passive_threads() {
    export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${1:-${OMP_NUM_THREADS:-1}}
}
setup() {
    local out
    out=$("$@" 2>&1) && return
    echo "FAIL: set-up: $*: $(head -c 400 <<<"$out")"
    fail=$((fail + 1))
    summary
    exit 1
}
tiny_data() {
    setup "$O1P" data synth --n "$2" --levels "$3" ${4:+--seed "$4"} --out "$1"
}
tiny_tokenizer() {
    setup "$O1P" tok train --data "$1" --vocab "${2:-300}" --out tok.json
}
tiny_config() {
    python3 - "$@" <<'PY'
import json, sys
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 32,
       "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
       "max_position_embeddings": 256, "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": True}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        cfg[k] = json.loads(v)
    except ValueError:
        cfg[k] = v
json.dump(cfg, open(sys.argv[1], "w"))
PY
}
tiny_model() {
    setup "$O1P" init --config "$2" --out "$1" --tokenizer tok.json ${3:+--seed "$3"}
}
tiny_qwen2_run() {
    tiny_data data.jsonl 24 1 3
    tiny_tokenizer data.jsonl
    tiny_config cfg.json 'architectures=["Qwen2ForCausalLM"]' model_type=qwen2 num_hidden_layers=3 \
        tie_word_embeddings=false
    tiny_model model cfg.json
}
need_node_modules() {
    [ -d "tests/node/node_modules/$1" ] && return
    echo "tests/node/node_modules is missing: run 'make deps' (npm ci --prefix tests/node)"
    echo "0 passed, 1 failed"
    exit 1
}
