#!/usr/bin/env node
/**
 * `npm run bench`: speed and scale as ratios against a baseline measured on the same machine in the
 * same run, so the figures mean the same on a fast laptop and a slow CI box. `npm run bench` builds first; the area benchmarks import the compiled modules from dist/lib/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const knit = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 11);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function wall(argv) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    samples.push(performance.now() - t);
  }
  return median(samples);
}

const rows = [];
const baseline = wall(['node', '-e', '0']);
const ratio = (name, ms, target) => rows.push({ name, ms, ratio: ms / baseline, target });

ratio('knit --help', wall(['node', knit, '--help']), 1.5);
const caseFile = (name) => fileURLToPath(new URL(`../cases/${name}.yaml`, import.meta.url));
// one full bundle per CNI: kubeadm configs, cni.yaml, NAT rules, plan.txt
for (const c of ['cross-vpc-flannel', 'calico-bgp-rr', 'terway-eni-policy'])
  ratio(`knit render (full bundle, ${c})`, wall(['node', knit, 'render', '--config', caseFile(c)]), 2.5);

// Benchmarks contributed by other areas export `bench*()` → { name, seconds, target?, note? } or a list of them (absolute),
// or { name, ms, ratio, target?, note? } (a ratio they measured themselves), or { name, mb, target? } (a size).
const here = new URL('.', import.meta.url);
const absolute = [];
for (const file of readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'bench.mjs')) {
  const mod = await import(new URL(file, here).href);
  // a benchmark returns one result or several
  for (const [key, fn] of Object.entries(mod)) if (key.startsWith('bench') && typeof fn === 'function') absolute.push(...[await fn()].flat());
}

console.log(`baseline: node -e 0 = ${baseline.toFixed(1)} ms (median of ${RUNS})`);
for (const r of rows)
  console.log(`${r.name.padEnd(52)} ${r.ms.toFixed(1).padStart(7)} ms  ratio ${r.ratio.toFixed(2)}  (target <= ${r.target})  ${r.ratio <= r.target ? 'ok' : 'OVER'}`);
for (const a of absolute.filter((x) => x.skipped)) console.log(`${a.name.padEnd(52)} skipped: ${a.skipped}`);
const verdict = (value, target) => (target === undefined ? '' : `  (target <= ${target})  ${value <= target ? 'ok' : 'OVER'}`);
for (const a of absolute.filter((x) => !x.skipped && x.ratio !== undefined)) // a ratio measured in that benchmark's own run
  console.log(`${a.name.padEnd(52)} ${a.ms.toFixed(1).padStart(7)} ms  ratio ${a.ratio.toFixed(2)}${verdict(a.ratio, a.target)}${a.note ? `  ${a.note}` : ''}`);
for (const a of absolute.filter((x) => !x.skipped && x.mb !== undefined)) // a size in MB (10^6 bytes)
  console.log(`${a.name.padEnd(52)} ${a.mb.toFixed(1).padStart(7)} MB${verdict(a.mb, a.target)}`);
for (const a of absolute.filter((x) => !x.skipped && x.ratio === undefined && x.mb === undefined))
  console.log(`${a.name.padEnd(52)} ${(a.seconds * 1000).toFixed(1).padStart(7)} ms${a.target ? `  (target <= ${a.target * 1000} ms)  ${a.seconds <= a.target ? 'ok' : 'OVER'}` : ''}${a.note ? `  ${a.note}` : ''}`);
