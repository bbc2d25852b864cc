#!/bin/sh
# Usage: sh scripts/prune-native-build.sh <node_modules>
# After a production install: drops what compiling better-sqlite3 from source leaves behind (the
# SQLite and C++ sources, object files, makefiles: about 25 MiB) and keeps the one file it loads,
# build/Release/better_sqlite3.node. Used by the Dockerfile and scripts/verify-prod.sh alike.
set -eu
pkg="$1/better-sqlite3"
addon="$pkg/build/Release/better_sqlite3.node"
if [ ! -f "$addon" ]; then
  echo "prune-native-build: $addon not found" >&2
  exit 1
fi
find "$pkg/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find "$pkg/build/Release" -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
rm -rf "$pkg/deps" "$pkg/src"
