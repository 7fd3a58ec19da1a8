#!/bin/bash
# run-fuzz.sh - the libFuzzer harnesses of tests/fuzz/ as a test (TAP):
# builds each harness with clang (-fsanitize=fuzzer,address,undefined) into
# $TOP_BUILDDIR/tests/fuzz, replays every input kept in
# tests/fuzz/regressions/<harness>/ (one result each: crashes found once,
# and fixed), then fuzzes each harness for FUZZ_SECONDS (default 20) from
# the seed corpus in tests/fuzz/corpus/<harness>/ (one result each). Any
# crash, sanitizer report, leak or timeout fails.
#
# `make fuzz` runs the same harnesses longer (FUZZ_SECONDS=300). A new
# crash input is saved in $TOP_BUILDDIR/tests/fuzz/artifacts/<harness>/:
# once fixed, keep it in tests/fuzz/regressions/<harness>/.
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/build}
SRC=$TOP_SRCDIR/tests/fuzz
OUT=$TOP_BUILDDIR/tests/fuzz
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CC=${FUZZ_CC:-clang}

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "1..0 # SKIP clang not installed"
    exit 0
fi

# harness name -> the project sources compiled into it.
HARNESSES=(message route config command receipt)
declare -A SOURCES=(
    [message]="lib/message.c lib/token.c"
    [route]="lib/route.c"
    [config]="lib/config.c"
    [command]="push/command.c"
    [receipt]="lib/message.c lib/token.c"
)
# shellcheck disable=SC2046
CFLAGS=(-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -fno-omit-frame-pointer -I"$TOP_SRCDIR/lib" -I"$TOP_SRCDIR/push"
        $(pkg-config --cflags json-c openssl 2>/dev/null))
# shellcheck disable=SC2207
LIBS=($(pkg-config --libs json-c openssl 2>/dev/null || echo -ljson-c -lcrypto))
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

N=0
FAILED=0
result() {
    N=$((N + 1))
    if [ "$1" = 0 ]; then echo "ok $N - $2"; else echo "not ok $N - $2"; FAILED=$((FAILED + 1)); fi
}
# show FILE: the end of a log, as TAP comments.
show() { tail -n "${2:-25}" "$1" | sed 's/^/#   /'; }

mkdir -p "$OUT"
# libFuzzer comes with clang's runtime (Debian: libclang-rt-14-dev), not with clang itself.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    > "$OUT/probe.c"
if ! "$CC" -fsanitize=fuzzer -o "$OUT/probe" "$OUT/probe.c" >"$OUT/probe.log" 2>&1; then
    echo "1..0 # SKIP $CC cannot link libFuzzer (install libclang-rt-dev)"
    exit 0
fi
rm -f "$OUT/probe" "$OUT/probe.c" "$OUT/probe.log"

for h in "${HARNESSES[@]}"; do
    bin=$OUT/fuzz_$h
    srcs=("$SRC/fuzz_$h.c")
    for s in ${SOURCES[$h]}; do srcs+=("$TOP_SRCDIR/$s"); done
    if ! "$CC" "${CFLAGS[@]}" -o "$bin" "${srcs[@]}" "${LIBS[@]}" >"$OUT/build-$h.log" 2>&1; then
        result 1 "fuzz_$h builds with $CC"
        show "$OUT/build-$h.log"
        continue
    fi

    # Regressions: each kept input runs once and must pass.
    for input in "$SRC/regressions/$h"/*; do
        [ -f "$input" ] || continue
        name=regression-$h-$(basename "$input")
        if timeout 60 "$bin" -timeout=10 -rss_limit_mb=2048 "$input" >"$OUT/$name.log" 2>&1; then
            result 0 "fuzz_$h: regression input $(basename "$input")"
        else
            result 1 "fuzz_$h: regression input $(basename "$input")"
            show "$OUT/$name.log"
        fi
    done

    # Fuzzing: the corpus grows in the build tree; the seeds are only read.
    mkdir -p "$OUT/work/$h" "$OUT/artifacts/$h"
    log=$OUT/fuzz-$h.log
    timeout $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -dict="$SRC/json.dict" -artifact_prefix="$OUT/artifacts/$h/" -print_final_stats=1 \
        "$OUT/work/$h" "$SRC/corpus/$h" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$rc" = 0 ]; then
        result 0 "fuzz_$h: ${FUZZ_SECONDS} s of fuzzing, ${runs:-?} runs, no crash or leak"
    else
        result 1 "fuzz_$h: ${FUZZ_SECONDS} s of fuzzing (exit $rc)"
        show "$log" 40
        for a in "$OUT/artifacts/$h"/*; do [ -f "$a" ] && echo "#   crash input: $a"; done
    fi
done
echo "1..$N"
[ "$FAILED" = 0 ]
