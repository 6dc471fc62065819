#!/usr/bin/env node
/**
 * Starts knit's bundled CLI (dist/knit.cjs) through a V8 code cache, so that a run does not compile
 * the bundle again: the first run of each command stores what V8 compiled in
 * $KNIT_CACHE_DIR (default $XDG_CACHE_HOME/knit or ~/.cache/knit); later runs start from it. A cache
 * that does not fit this Node/V8 is rejected by V8 and rewritten; one that cannot be written is skipped.
 * KNIT_NO_CODE_CACHE=1 turns it off. (Node 22's module.enableCompileCache does the same; Node 20 lacks it.)
 *
 * With --debug, stack traces name knit's TypeScript sources: source maps are turned on before the
 * bundle is compiled (Node reads dist/knit.cjs.map then, not when a stack is printed), and the bundle
 * is loaded by Node's own CommonJS loader, which registers the map (a vm.Script does not). That run
 * skips the code cache; every other run pays nothing for the map.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('../dist/knit.cjs', import.meta.url));
if (process.argv.includes('--debug')) {
  process.setSourceMapsEnabled(true);
  process.exitCode = await createRequire(bundle)(bundle).main(process.argv);
} else await runFromCodeCache();

async function runFromCodeCache() {
  const source = readFileSync(bundle, 'utf8');
  const env = process.env;
  const command = process.argv.slice(2).find((a) => /^[a-z][a-z-]*$/.test(a)) ?? 'help';
  let cachePath;
  if (env.KNIT_NO_CODE_CACHE !== '1') {
    const dir = env.KNIT_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'knit');
    const { size, mtimeMs } = statSync(bundle);
    cachePath = join(dir, `${process.version}-${size}-${Math.floor(mtimeMs)}-${command}.v8cache`);
  }
  let cachedData;
  try {
    if (cachePath) cachedData = readFileSync(cachePath);
  } catch {
    // no cache yet
  }
  // the CommonJS module wrapper, as Node's own loader applies it
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, join(bundle, '..'));
  process.exitCode = await module.exports.main(process.argv);

  if (cachePath && (cachedData === undefined || script.cachedDataRejected)) {
    try {
      mkdirSync(join(cachePath, '..'), { recursive: true });
      const tmp = `${cachePath}.${process.pid}`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cachePath); // atomic: concurrent runs never read half a cache
    } catch {
      // a read-only home or cache dir: run without a cache
    }
  }
}
