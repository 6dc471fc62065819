/**
 * The single executable (`npm run build:sea` → dist/knit-linux-x64) against its budget: its size raw
 * and gzipped (MB = 10^6 bytes), and its speed as ratios measured in this run, the commands taking turns
 * so that a busy machine slows each of them alike: `knit --help` against `node -e 0`, and `knit render`
 * against `node bin/knit.js render` (the npm install, its code cache warm). arm64's size too when built;
 * its speed under qemu says nothing of an arm64 host's.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const dist = (name) => fileURLToPath(new URL(`../../dist/${name}`, import.meta.url));
const knit = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));
const spec = fileURLToPath(new URL('../cases/cross-vpc-flannel.yaml', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 11);

async function gzipSize(file) {
  let size = 0;
  for await (const chunk of createReadStream(file).pipe(createGzip())) size += chunk.length;
  return size;
}

async function sizes(arch, { raw, gzip }) {
  const exe = dist(`knit-linux-${arch}`);
  if (!existsSync(exe)) return [];
  return [
    { name: `knit-linux-${arch} size`, mb: statSync(exe).size / 1e6, target: raw },
    { name: `knit-linux-${arch} size, gzip`, mb: (await gzipSize(exe)) / 1e6, target: gzip },
  ];
}

/** The median wall time of each command, the commands run in turn RUNS times. */
function interleaved(commands) {
  const samples = commands.map(() => []);
  for (let i = 0; i < RUNS; i++)
    commands.forEach((argv, j) => {
      const t = performance.now();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' });
      samples[j].push(performance.now() - t);
      if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}`);
    });
  return samples.map((xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
}

export async function benchSea() {
  const exe = dist('knit-linux-x64');
  if (!existsSync(exe)) return { name: 'single executable (dist/knit-linux-x64)', skipped: 'not built (npm run build:sea)' };
  const render = ['render', '-f', spec];
  const [node0, help, nodeRender, seaRender] = interleaved([
    ['node', '-e', '0'],
    [exe, '--help'],
    ['node', knit, ...render],
    [exe, ...render],
  ]);
  return [
    ...(await sizes('x64', { raw: 100, gzip: 35 })),
    ...(await sizes('arm64', {})),
    { name: 'knit-linux-x64 --help vs node -e 0', ms: help, ratio: help / node0, target: 1.8, note: `node -e 0 = ${node0.toFixed(1)} ms` },
    { name: 'knit-linux-x64 render vs node bin/knit.js render', ms: seaRender, ratio: seaRender / nodeRender, target: 1.3, note: `node bin/knit.js = ${nodeRender.toFixed(1)} ms` },
  ];
}
