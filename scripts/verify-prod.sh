#!/usr/bin/env bash
# npm run verify:prod: the Dockerfile's steps without Docker, to prove that the production
# install builds, needs no dev dependency, and starts. Run by .ci/run; non-zero on any failure.
#
#   1. a clean copy of the repository: the files git would commit (tracked, plus untracked files
#      that .gitignore does not exclude; in CI's fresh clone that is exactly the commit)
#   2. build stage:  npm ci && npm run build                   (in that copy)
#   3. runtime:      package.json, package-lock.json, dist/ only; npm ci --omit=dev; the
#                    compile leftovers of better-sqlite3 pruned (scripts/prune-native-build.sh)
#   4. start node dist/server/main.mjs with NODE_ENV=production, a random JWT_SECRET, a temporary
#      DATA_DIR and a free port; wait (60 s at most) for /health/ready; measure; SIGTERM -> exit 0
#      (scripts/prod-smoke.mjs)
# Prints the production node_modules size, the cold start, and the resident memory idle and after
# a short load. Temporary folders are removed on exit. Keep in step with the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
step() { printf '\n--- verify:prod: %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/verify-prod.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "clean copy of the repository"
if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "verify:prod: $root is not a git checkout" >&2
  exit 1
fi
mkdir "$work/build"
# Files deleted in the working tree but still in the index are skipped.
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | (cd "$root" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) \
  | (cd "$root" && tar --null --files-from=- -cf -) \
  | tar -xf - -C "$work/build"
[ -f "$work/build/package-lock.json" ] || { echo "verify:prod: package-lock.json is not in the copy" >&2; exit 1; }

step "build stage: npm ci && npm run build"
(cd "$work/build" && npm ci --no-audit --no-fund && npm run build)

step "runtime: package.json, package-lock.json, dist/; npm ci --omit=dev"
mkdir "$work/runtime" "$work/data"
cp "$work/build/package.json" "$work/build/package-lock.json" "$work/runtime/"
cp -R "$work/build/dist" "$work/runtime/dist"
(cd "$work/runtime" && npm ci --omit=dev --ignore-scripts=false --no-audit --no-fund)
sh "$work/build/scripts/prune-native-build.sh" "$work/runtime/node_modules"
for dev in typescript tsx esbuild eslint @types/node autocannon; do
  if [ -e "$work/runtime/node_modules/$dev" ]; then
    echo "verify:prod: dev dependency $dev was installed with --omit=dev" >&2
    exit 1
  fi
done

step "start the bundled server (NODE_ENV=production) and measure"
node "$work/build/scripts/prod-smoke.mjs" "$work/runtime" "$work/data"
printf 'production node_modules: %s (du -sh)\n' "$(du -sh "$work/runtime/node_modules" | cut -f1)"
printf 'largest production packages:\n'
(cd "$work/runtime/node_modules" && du -sh -- [!@]*/ @*/*/ 2>/dev/null | sort -rh | head -6 | sed 's/^/  /') || true

step "done: the production install starts and stops cleanly"
