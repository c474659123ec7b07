#!/usr/bin/env bash
# Fuzz the YAML loader with libFuzzer (Swift's toolchain ships it; Linux only).
#
# Usage: scripts/fuzz.sh [SECONDS] [--update-corpus] [-- extra libFuzzer flags]
#   SECONDS          how long to fuzz (default 300)
#   --update-corpus  afterwards, merge inputs that add coverage into Fuzz/corpus/loader
#                    (the committed seed corpus; keep it under ~2 MB)
#
# Seeds come from Fuzz/corpus/loader (read only); new inputs go to .build-fuzz/corpus, which
# persists between runs. Crashes land in .build-fuzz/artifacts/; reproduce one with
#   .build-fuzz/debug/dsdeploy-fuzz-loader .build-fuzz/artifacts/crash-...
# and after fixing, copy it into Fuzz/corpus/loader as a regression seed (the replay runner
# and DeploySpecTests feed every corpus file through the loader).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=300
update=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --update-corpus) update=1 ;;
        --) shift; extra=("$@"); break ;;
        *) seconds="$1" ;;
    esac
    shift
done

# -sanitize=fuzzer instruments the Swift code and links libFuzzer; -fsanitize=fuzzer-no-link
# instruments libyaml (C) too, so coverage guidance sees inside the parser. -parse-as-library
# because main.swift only declares functions in this mode; SwiftPM aliases `main` to
# dsdeploy_fuzz_loader_main, which main.swift defines to call LLVMFuzzerRunDriver.
swift build --scratch-path .build-fuzz -c debug --product dsdeploy-fuzz-loader \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library \
    -Xcc -fsanitize=fuzzer-no-link,address

bin=.build-fuzz/debug/dsdeploy-fuzz-loader
mkdir -p .build-fuzz/corpus .build-fuzz/artifacts
# Swift's runtime keeps metadata caches alive at exit: leak reports would be noise.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
"$bin" -max_total_time="$seconds" -max_len=8192 -timeout=20 -rss_limit_mb=4096 \
    -dict=Fuzz/yaml.dict -artifact_prefix=.build-fuzz/artifacts/ -print_final_stats=1 \
    ${extra[@]+"${extra[@]}"} .build-fuzz/corpus Fuzz/corpus/loader

if [ "$update" = 1 ]; then
    "$bin" -merge=1 -max_len=8192 Fuzz/corpus/loader .build-fuzz/corpus
    du -sh Fuzz/corpus/loader
fi
