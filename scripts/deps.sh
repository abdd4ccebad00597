#!/usr/bin/env bash
# Installs what gocxx needs on Debian 12 (as root), skipping what is already there.
set -euo pipefail
packages=(build-essential cmake libboost-context-dev libfmt-dev libgtest-dev libgmock-dev
          libbenchmark-dev libcurl4-openssl-dev libcli11-dev nlohmann-json3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gocxx: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
