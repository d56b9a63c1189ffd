#!/usr/bin/env bash
# The whole test suite: unit tests (no root) under AddressSanitizer and
# UBSan, then scenario tests (root, real eBPF, real behaviour).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" all
echo "== unit tests (ASan+UBSan)"
make -j"$(nproc)" BUILD=build-asan SANITIZE=1 unit
echo "== fuzz targets (a short run each: they build and survive their seeds)"
make -j"$(nproc)" BUILD=build-fuzz fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
echo "== scenario tests"
if [ "$(id -u)" != 0 ]; then
  echo "scenario tests need root (they load eBPF programs); run as root" >&2
  exit 1
fi
VIGIL_BUILD="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/scenario "$@"
