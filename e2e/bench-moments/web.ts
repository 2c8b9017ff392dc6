import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The web app for the Moments benchmark, in a folder of its own (others may
 * be rebuilding apps/web/dist meanwhile): the app built from source (or
 * copied from PARLEY_E2E_WEB_DIR when set), plus two benchmark files served
 * from the same origin — bench-moments.html with the SDK page
 * (bench-moments/page.ts) and bench-moments-scroll.js (scroll.ts), loaded
 * into the app's own page to scroll its timeline. Same origin, same
 * IndexedDB: what the SDK page stores is what the app shows.
 */
export async function buildBenchWeb(): Promise<{ dir: string; dispose: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-moments-web-'));
  const prebuilt = process.env['PARLEY_E2E_WEB_DIR'];
  if (prebuilt !== undefined && existsSync(join(prebuilt, 'index.html'))) {
    cpSync(prebuilt, dir, { recursive: true });
  } else {
    const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', dir, '--emptyOutDir'], { cwd: join(ROOT, 'apps/web'), stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the web app failed');
  }
  const bundle = async (entry: string, format: 'esm' | 'iife') => {
    const out = await build({ entryPoints: [join(ROOT, 'e2e/bench-moments', entry)], bundle: true, format, platform: 'browser', target: 'es2022', write: false, logLevel: 'warning' });
    return out.outputFiles[0]?.text ?? '';
  };
  writeFileSync(join(dir, 'bench-moments.js'), await bundle('page.ts', 'esm'));
  writeFileSync(join(dir, 'bench-moments-scroll.js'), await bundle('scroll.ts', 'iife'));
  writeFileSync(join(dir, 'bench-moments.html'), '<!doctype html><meta charset="utf-8"><title>Moments bench</title><script type="module" src="/bench-moments.js"></script>');
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
