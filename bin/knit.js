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
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
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
  // any trouble with the cache (no home, an unwritable or impossible directory) → run without it
  let cache;
  try {
    if (env.KNIT_NO_CODE_CACHE !== '1') {
      const dir = env.KNIT_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'knit');
      const { size, mtimeMs } = statSync(bundle);
      const build = `${size}-${Math.floor(mtimeMs)}`;
      cache = { dir, build, path: join(dir, `${process.version}-${build}-${command}.v8cache`) };
    }
  } catch {
    cache = undefined;
  }
  let cachedData;
  try {
    if (cache) cachedData = readFileSync(cache.path);
  } catch {
    // no cache yet
  }
  // the CommonJS module wrapper, as Node's own loader applies it
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, join(bundle, '..'));
  process.exitCode = await module.exports.main(process.argv);

  if (cache && (cachedData === undefined || script.cachedDataRejected)) {
    try {
      makeDirs(cache.dir);
      const tmp = `${cache.path}.${process.pid}`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cache.path); // atomic: concurrent runs never read half a cache
      pruneOtherBuilds(cache.dir, cache.build);
    } catch {
      // a read-only home or cache dir: run without a cache
    }
  }
}

/**
 * mkdir -p, one level at a time, giving up at the first error. Node's own `recursive: true` loops
 * forever (100 % CPU, in C++) where a parent exists but refuses children with ENOENT, as /proc does
 * (HOME=/proc/1): it takes ENOENT to mean "make the parent first", and the parent always exists.
 */
function makeDirs(dir) {
  const missing = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (statSync(d).isDirectory()) break;
      throw new Error(`${d} is not a directory`);
    } catch (e) {
      if (e.code !== 'ENOENT' || dirname(d) === d) throw e;
      missing.unshift(d);
    }
  }
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

/** The cache holds the current build only: a new bundle's first run deletes the older builds' entries. */
function pruneOtherBuilds(dir, build) {
  for (const name of readdirSync(dir)) {
    const m = /^v[\d.]+-(\d+-\d+)-[a-z][a-z-]*\.v8cache$/.exec(name);
    if (m && m[1] !== build) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // another run removed it first
      }
    }
  }
}
