#!/usr/bin/env bash
# Installs the Debian packages vigil needs to build, test and benchmark.
set -euo pipefail
pkgs=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev libyaml-dev
      libsqlite3-dev libssl-dev libcmocka-dev libhyperscan-dev libpcre2-dev pkg-config make gcc g++
      python3 python3-pytest iproute2 netcat-openbsd util-linux procps auditd libclang-rt-14-dev
      libcap2-bin acl e2fsprogs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
