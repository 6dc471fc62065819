/**
 * The single executable's heavy dependencies (the Alibaba Cloud SDK, kubernetes-models, the Kubernetes
 * client: nine tenths of the code) are not in its main script, which every run compiles, but in chunks
 * stored as SEA assets, each compiled on the first import of one of its packages, from V8's code cache of
 * it written at build time by the same Node (bin/build-sea.mjs). `knit --help` and `knit render` do not pay
 * for them. bin/build-sea.mjs points each import of such a package at `load(chunk, specifier)`.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { getAsset } from 'node:sea';
import { Script } from 'node:vm';

type Chunk = Record<string, () => unknown>;
const chunks = new Map<string, Chunk>();

function chunk(name: string): Chunk {
  let loaded = chunks.get(name);
  if (!loaded) {
    // the asset is the CommonJS wrapper around the chunk, as bin/build-sea.mjs compiled it for the cache
    const source = getAsset(`chunks/${name}.js`, 'utf8');
    const cachedData = Buffer.from(getAsset(`chunks/${name}.cache`));
    const script = new Script(source, { filename: `knit-sea-${name}.cjs`, cachedData });
    const module = { exports: {} as Chunk };
    // a chunk requires Node's built-ins only: every package it uses is inside it
    const run = script.runInThisContext() as (...args: unknown[]) => void;
    run(module.exports, createRequire(process.execPath), module, process.execPath, dirname(process.execPath));
    chunks.set(name, (loaded = module.exports));
  }
  return loaded;
}

/** What `require(specifier)` gives, from the chunk that holds that package. */
export function load(name: string, specifier: string): unknown {
  const get = chunk(name)[specifier];
  if (!get) throw new Error(`knit's single executable has no ${specifier} in its ${name} chunk (bin/build-sea.mjs)`);
  return get();
}
