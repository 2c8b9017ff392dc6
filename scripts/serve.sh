#!/bin/sh
# `npm start`: builds the web app and the server when their sources changed,
# then replaces this shell with the compiled server (plain node, no tsx), so
# the server is the process a supervisor (systemd, a container) watches and
# signals. Arguments go to `parley serve`; configuration is the environment.
set -e
cd "$(dirname "$0")/.."
node scripts/build-web.mjs
node scripts/build-server.mjs

# glibc raises its mmap threshold to the size of each large block freed (up to
# 32 MiB), after which blocks that size come from the heap arenas and stay
# there once freed: every argon2 computation (19 MiB) would leave 19 MiB behind
# in the arena of each libuv thread that ran one, and the parser's buffers at
# start-up a few more. A fixed threshold keeps blocks of 128 KiB and more in
# their own mappings, returned to the system when freed. Set it yourself to
# override; it has no effect with other C libraries (musl).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"

exec node --enable-source-maps apps/parley/dist/parley.cjs serve "$@"
