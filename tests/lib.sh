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
