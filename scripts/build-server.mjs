#!/usr/bin/env node
// Compiles the `parley` command (apps/parley, with @parley/server and
// @parley/protocol) into one plain JavaScript file, apps/parley/dist/parley.cjs,
// unless the build is newer than every file it was made from. `npm start` runs
// this first and then runs the output with plain node: no TypeScript compiler
// in the server process.
//
// Why a bundle, and why CommonJS:
// - One file resolves the workspace packages (whose package.json points at
//   src/*.ts for tsx, tests and the web build) at build time, so nothing at run
//   time needs to know about TypeScript.
// - In Node 24 an ES module that imports `node:http` makes Node build that
//   module's namespace, which evaluates its lazy `WebSocket` export and loads
//   undici (fetch, web streams) — megabytes the server never uses. require()
//   does not.
// - Native and optional modules stay outside: better-sqlite3 and argon2 (native),
//   pg and the NATS client (loaded only when DATABASE_URL / NATS_URL is set).
// - Whitespace and syntax are minified (names are kept, so stack frames still
//   name functions); the source map next to it turns frames back into
//   packages/*/src/*.ts lines (`node --enable-source-maps`, as `npm start` runs
//   it; Node reads the map only when a stack trace is printed).
// - zod's error-message translations for ~50 languages are left out: the
//   server only ever uses the default English one.
//
//   node scripts/build-server.mjs            build if any input changed
//   node scripts/build-server.mjs --force    build anyway
//   node scripts/build-server.mjs --check    exit 1 if a build is needed, build nothing
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(root, 'apps/parley/dist');
const OUT_FILE = join(OUT_DIR, 'parley.cjs');
const STAMP = join(OUT_DIR, 'parley.inputs.json');
/** Not bundled: native addons, and the drivers loaded only when configured. */
const EXTERNAL = ['better-sqlite3', 'argon2', 'pg', '@nats-io/*'];
/** Inputs that esbuild does not list but that change the output (options, resolution, versions). */
const ALWAYS = [
  'scripts/build-server.mjs',
  'package-lock.json',
  'package.json',
  'apps/parley/package.json',
  'packages/server/package.json',
  'packages/protocol/package.json',
  'tsconfig.base.json',
  'tsconfig.json',
];

/** Why the build is stale, or undefined when it is up to date. */
function staleReason() {
  if (!existsSync(OUT_FILE) || !existsSync(STAMP)) return 'no build yet';
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return 'unreadable stamp';
  }
  if (typeof stamp.startedAt !== 'number' || !Array.isArray(stamp.inputs)) return 'unreadable stamp';
  for (const input of [...stamp.inputs, ...ALWAYS]) {
    const path = join(root, input);
    // A deleted or renamed file means an importing file changed too; either way, rebuild.
    if (!existsSync(path)) return `${input} is gone`;
    if (statSync(path).mtimeMs >= stamp.startedAt) return `${input} changed`;
  }
  return undefined;
}

/** Resolves zod's `locales/index.js` (all languages) to English only. */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes(`${join('node_modules', 'zod')}`) ? { path: 'zod-locales', namespace: 'parley-stub' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'parley-stub' }, () => ({ contents: 'export { default as en } from "zod/v4/locales/en.js";', resolveDir: root, loader: 'js' }));
  },
};

async function compile() {
  const { build } = await import('esbuild');
  const startedAt = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['apps/parley/src/main.ts'],
    outfile: OUT_FILE,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: EXTERNAL,
    // The CommonJS output has no import.meta; the bundle sits in apps/parley/dist/, as deep as
    // apps/parley/src/, so paths relative to it (the web app's build) stay the same.
    define: { 'import.meta.url': '__parleyModuleUrl' },
    banner: { js: "const __parleyModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    charset: 'ascii',
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [zodEnglishOnly],
  });
  // Written beside and renamed over, so a server starting meanwhile reads an old or a new file, never half of one.
  // The map first: a new bundle must not point at an old map.
  const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
  for (const file of files) {
    const tmp = `${file.path}.tmp-${process.pid}`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes(':'))
    .sort();
  writeFileSync(STAMP, `${JSON.stringify({ startedAt, inputs }, null, 1)}\n`);
  const bundle = files.find((f) => f.path === OUT_FILE);
  return { bytes: bundle?.contents.byteLength ?? 0, inputs: inputs.length };
}

const force = process.argv.includes('--force');
const checkOnly = process.argv.includes('--check');
const reason = force ? 'forced' : staleReason();
if (reason === undefined) {
  console.log('server: build is up to date');
  process.exit(0);
}
if (checkOnly) {
  console.log(`server: build needed (${reason})`);
  process.exit(1);
}
console.log(`server: building (${reason})…`);
mkdirSync(OUT_DIR, { recursive: true });
const { bytes, inputs } = await compile();
console.log(`server: ${relative(root, OUT_FILE)} (${Math.round(bytes / 1024)} KiB from ${inputs} files)`);
