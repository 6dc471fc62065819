#!/usr/bin/env node
/**
 * `npm run build:sea`: knit as one executable file per architecture, dist/knit-linux-x64 and
 * dist/knit-linux-arm64 (each with its `sha256sum -c` file beside it), that runs on a Linux host with no
 * Node.js, no node_modules and no templates/ folder: a Node single executable application (SEA).
 *
 * 1. The runtime: Node from the npm registry's node-linux-<arch> package at the version pinned below,
 *    fetched once into node_modules/.cache/knit-sea/ (`npm pack`), its binary's sha256 checked against
 *    the pin on every build.
 * 2. knit bundled with every dependency (esbuild, nothing external): the optional native add-ons that
 *    dependencies try to load are a stub that fails as a missing module does; `punycode` is the userland
 *    package (Node's own is deprecated); the version is set at build time (in a SEA, __filename is the
 *    executable: no package.json beside it). The main script (src/sea/entry.ts: knit and its light
 *    dependencies, 1.4 MB) is apart from the heavy ones (the Alibaba Cloud SDK, kubernetes-models, the
 *    Kubernetes client: 11 MB), which are chunks that src/sea/chunks.ts loads on their first import, so
 *    that `knit --help` or `knit render` starts as fast as `node -e 0`.
 * 3. The SEA blob (sea-config.json: the main script with V8's code cache of it; templates/ and the
 *    chunks, each with its code cache, as assets) written by the target's own Node: a code cache fits
 *    one architecture only, so arm64's come from the arm64 Node under qemu-user (Debian
 *    qemu-user-static, libc6-arm64-cross, libstdc++6-arm64-cross).
 * 4. The runtime binary stripped (llvm-strip, or binutils' strip / aarch64-linux-gnu-strip) BEFORE the
 *    blob is injected with postject (stripping an injected binary leaves one that crashes).
 *
 * Usage: node bin/build-sea.mjs [--arch x64|arm64|all]   (or KNIT_SEA_ARCH=…)
 *   default: x64, and arm64 where qemu-aarch64-static and the arm64 libraries are installed (a note says
 *   so where they are not); `--arch arm64` or `all` requires them. Runs on linux-x64.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The runtime: Node 24 (an LTS line) from the npm registry, and its binary's sha256 for each arch. */
const NODE_VERSION = '24.22.3';
const NODE_SHA256 = {
  x64: 'a7ec1b37e6ff9d187e4198c5b6df9a4eb1c74dd31804fb3bac55cc4ceca1ac01',
  arm64: '8f9c2a55879e9705cb285b6cdd649d95df642c6720f052cb30f300d2677da99f',
};
/** Where the arm64 runtime finds its loader and libraries under qemu-user (Debian's *-arm64-cross). */
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
/** The sentinel Node's SEA support looks for, flipped by postject when the blob is in. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const cacheDir = join(root, 'node_modules', '.cache', 'knit-sea');
const require = createRequire(import.meta.url);

const t0 = performance.now();
const log = (msg) => console.log(`[build:sea ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

/** The first of `tools` on PATH, or undefined. */
function onPath(...tools) {
  for (const tool of tools)
    for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean))
      if (existsSync(join(dir, tool))) return join(dir, tool);
  return undefined;
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });

/** What running an arm64 binary takes here: qemu-user and the arm64 loader and libraries, or why not. */
function arm64Support() {
  const qemu = onPath('qemu-aarch64-static', 'qemu-aarch64');
  if (!qemu) return { ok: false, reason: 'qemu-aarch64-static is not on PATH (apt-get install qemu-user-static)' };
  for (const lib of ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6'])
    if (!existsSync(join(ARM64_SYSROOT, lib)))
      return { ok: false, reason: `${join(ARM64_SYSROOT, lib)} is missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)` };
  return { ok: true, qemu };
}

/** How to run a binary of `arch` here: [command, ...leading args] and its environment. */
function runner(arch, binary) {
  if (arch === process.arch) return { cmd: binary, args: [], env: process.env };
  const { qemu } = arm64Support();
  return { cmd: qemu, args: ['-L', ARM64_SYSROOT, binary], env: { ...process.env, QEMU_LD_PREFIX: ARM64_SYSROOT } };
}

/** The pinned Node binary for `arch`, from the cache or fetched into it, its sha256 checked. */
function runtime(arch) {
  const expected = NODE_SHA256[arch];
  const cached = join(cacheDir, `node-v${NODE_VERSION}-linux-${arch}`);
  if (!existsSync(cached)) {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = mkdtempSync(join(cacheDir, 'fetch-'));
    try {
      const spec = `node-linux-${arch}@${NODE_VERSION}`;
      log(`fetching ${spec} from the npm registry`);
      const tgz = execFileSync('npm', ['pack', spec, '--pack-destination', tmp, '--silent', '--no-audit', '--no-fund'], { encoding: 'utf8' }).trim().split('\n').pop();
      run('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node']);
      renameSync(join(tmp, 'package', 'bin', 'node'), cached);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const actual = sha256(cached);
  if (actual !== expected) {
    rmSync(cached, { force: true }); // the next build fetches it again
    throw new Error(`node-linux-${arch}@${NODE_VERSION}: bin/node has sha256 ${actual}, the pin in bin/build-sea.mjs says ${expected}`);
  }
  return cached;
}

/**
 * The heavy dependencies, each group a chunk of its own (src/sea/chunks.ts loads one on the first import
 * of a package in it): together nine tenths of the code, which the main script would otherwise make
 * every run load, `knit --help` included.
 */
const CHUNKS = [
  { name: 'alicloud', match: /^@alicloud\// },
  { name: 'kubernetes-models', match: /^kubernetes-models(\/|$)/ },
  { name: 'kubernetes-client', match: /^@kubernetes\/client-node(\/|$)/ },
];
/** The CommonJS wrapper around a chunk, as it is stored (src/sea/chunks.ts compiles the asset as it is). */
const wrapChunk = (code) => `(function (exports, require, module, __filename, __dirname) {${code}\n})`;

/** esbuild's options for the main script and the chunks alike. */
function esbuildOptions(version) {
  const missing = './src/sea/missing-module.cjs';
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${NODE_VERSION.split('.')[0]}`,
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
    // every import() is a require() of a bundled module: a SEA's require reaches only Node's built-ins
    supported: { 'dynamic-import': false },
    alias: { bufferutil: missing, 'utf-8-validate': missing, 'supports-color': missing, punycode: 'punycode/' },
    define: { KNIT_VERSION: JSON.stringify(version), 'import.meta.url': 'knitModuleUrl' },
    banner: { js: "const knitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  };
}

/**
 * The main script (knit and its light dependencies) into `outfile`, and each chunk, wrapped, into
 * `${chunkDir}/<name>.js`. Every import of a chunk's package in the main script becomes
 * `require('src/sea/chunks.ts').load(chunk, specifier)`; each chunk exports { specifier: () => require(specifier) }.
 */
async function bundle(outfile, chunkDir) {
  const { build } = await import('esbuild');
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const used = new Map(CHUNKS.map((c) => [c.name, new Set()]));
  const toChunks = {
    name: 'knit-sea-chunks',
    setup(b) {
      b.onResolve({ filter: /^(@alicloud\/|kubernetes-models|@kubernetes\/client-node)/ }, (args) => {
        const chunk = CHUNKS.find((c) => c.match.test(args.path));
        if (!chunk) return undefined;
        used.get(chunk.name).add(args.path);
        return { path: args.path, namespace: 'knit-sea-chunk', pluginData: chunk.name };
      });
      b.onLoad({ filter: /.*/, namespace: 'knit-sea-chunk' }, (args) => ({
        contents: `module.exports = require('./src/sea/chunks.ts').load(${JSON.stringify(args.pluginData)}, ${JSON.stringify(args.path)});`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
  const main = await build({ ...esbuildOptions(version), entryPoints: ['src/sea/entry.ts'], outfile, plugins: [toChunks] });
  writeFileSync(outfile, main.outputFiles[0].contents);
  mkdirSync(chunkDir, { recursive: true });
  const chunks = [];
  for (const [name, specifiers] of used) {
    if (specifiers.size === 0) continue;
    const contents = `module.exports = {\n${[...specifiers].sort().map((s) => `  ${JSON.stringify(s)}: () => require(${JSON.stringify(s)}),`).join('\n')}\n};\n`;
    const out = await build({ ...esbuildOptions(version), stdin: { contents, resolveDir: root, sourcefile: `chunk-${name}.cjs`, loader: 'js' }, outfile: join(chunkDir, `${name}.js`) });
    writeFileSync(join(chunkDir, `${name}.js`), wrapChunk(out.outputFiles[0].text));
    chunks.push(name);
  }
  return { version, chunks };
}

/**
 * Run by the target's own Node (arm64's under qemu): V8's code cache of each chunk as compiled, checked to
 * be accepted by that V8, into `${cacheDir}/<name>.cache`. As compiled, not after a run: V8 then skips
 * the parse of the whole chunk, which is what costs (a cache taken after the packages' top level ran is
 * 40 times larger, 11.5 MB for the Alibaba Cloud SDK, for some 60 ms less on its first call).
 */
const WRITE_CHUNK_CACHES = `
const { Script } = require('node:vm');
const { readFileSync, writeFileSync } = require('node:fs');
const [chunkDir, cacheDir, ...names] = process.argv.slice(2);
for (const name of names) {
  const source = readFileSync(chunkDir + '/' + name + '.js', 'utf8');
  const script = new Script(source, { filename: 'knit-sea-' + name + '.cjs' });
  const data = script.createCachedData();
  if (new Script(source, { filename: 'knit-sea-' + name + '.cjs', cachedData: data }).cachedDataRejected) throw new Error(name + ': V8 rejects its own code cache');
  writeFileSync(cacheDir + '/' + name + '.cache', data);
}
`;

/** templates/ as SEA assets, keyed by their path from the repository root (templates/…). */
function templateAssets() {
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  return Object.fromEntries(walk(join(root, 'templates')).map((f) => [relative(root, f), f]));
}

/** The stripping tool for `arch`'s ELF files. */
function stripTool(arch) {
  const tool = onPath('llvm-strip') ?? (arch === 'arm64' ? onPath('aarch64-linux-gnu-strip') : onPath(arch === process.arch ? 'strip' : 'x86_64-linux-gnu-strip'));
  if (!tool)
    throw new Error(`no strip tool for ${arch}: apt-get install ${arch === 'arm64' ? 'binutils-aarch64-linux-gnu' : 'binutils'} (or llvm)`);
  return tool;
}

async function buildArch(arch, work, bundleFile, chunks) {
  const node = runtime(arch);
  log(`${arch}: runtime node-linux-${arch}@${NODE_VERSION}, sha256 checked`);
  const { cmd, args, env } = runner(arch, node);

  // the chunks' code caches, by the target's own V8
  const chunkDir = join(work, 'chunks');
  const cacheDir = join(work, arch);
  mkdirSync(cacheDir, { recursive: true });
  const writer = join(work, 'write-chunk-caches.cjs');
  writeFileSync(writer, WRITE_CHUNK_CACHES);
  try {
    execFileSync(cmd, [...args, writer, chunkDir, cacheDir, ...chunks], { env, cwd: work, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${arch}: writing the chunks' code caches failed: ${e.stderr || e.message}`);
  }
  log(`${arch}: code caches of the chunks ${chunks.map((c) => `${c} ${(statSync(join(cacheDir, `${c}.cache`)).size / 1e6).toFixed(1)} MB`).join(', ')}`);

  // the blob: the main script with V8's code cache of it (also by the target's V8), the templates, the chunks
  const assets = {
    ...templateAssets(),
    ...Object.fromEntries(chunks.flatMap((c) => [[`chunks/${c}.js`, join(chunkDir, `${c}.js`)], [`chunks/${c}.cache`, join(cacheDir, `${c}.cache`)]])),
  };
  const config = join(work, `sea-config-${arch}.json`);
  const blob = join(work, `knit-${arch}.blob`);
  // main relative to `work` (the cwd below): stack traces (--debug) name knit-sea.cjs, not this build's folder
  const main = relative(work, bundleFile);
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, assets }, null, 2));
  try {
    execFileSync(cmd, [...args, '--experimental-sea-config', config], { env, cwd: work, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${arch}: writing the SEA blob failed: ${e.stderr || e.message}`);
  }
  log(`${arch}: SEA blob ${(statSync(blob).size / 1e6).toFixed(1)} MB (main script, its code cache, ${Object.keys(assets).length} assets)`);

  // strip first, inject second
  const exe = join(work, `knit-linux-${arch}`);
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  run(stripTool(arch), [exe]);
  const { inject } = require('postject');
  await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  chmodSync(exe, 0o755);

  // a last look: it starts as knit (the blob is in and the fuse flipped) and knows its version
  const probe = runner(arch, exe);
  const version = execFileSync(probe.cmd, [...probe.args, '--version'], { env: probe.env, encoding: 'utf8' }).trim();
  if (version !== knitVersion) throw new Error(`${exe} --version printed ${JSON.stringify(version)}, not ${knitVersion}`);

  // into dist/ whole: a concurrent run or a test never sees half a binary
  const target = join(dist, basename(exe));
  renameSync(exe, target);
  const sum = `${sha256(target)}  ${basename(target)}\n`;
  writeFileSync(`${target}.sha256.${process.pid}`, sum);
  renameSync(`${target}.sha256.${process.pid}`, `${target}.sha256`);
  log(`${arch}: ${relative(root, target)} ${(statSync(target).size / 1e6).toFixed(1)} MB, sha256 ${sum.split(' ')[0]}`);
}

// --arch x64|arm64|all, default x64 plus arm64 where it can be built
const argAt = process.argv.indexOf('--arch');
const asked = argAt > 0 ? process.argv[argAt + 1] : (process.env.KNIT_SEA_ARCH ?? 'auto');
const arm = arm64Support();
let arches;
if (asked === 'auto') {
  arches = ['x64'];
  if (arm.ok) arches.push('arm64');
  else console.log(`[build:sea] note: not building knit-linux-arm64: ${arm.reason}`);
} else {
  arches = asked === 'all' ? ['x64', 'arm64'] : asked.split(',');
  for (const a of arches) if (!(a in NODE_SHA256)) throw new Error(`--arch ${a}: one of x64, arm64, all`);
  if (arches.includes('arm64') && !arm.ok) throw new Error(`cannot build knit-linux-arm64: ${arm.reason}`);
}
if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`build:sea runs on linux-x64 (this is ${process.platform}-${process.arch})`);

mkdirSync(dist, { recursive: true });
const work = mkdtempSync(join(dist, '.sea-'));
let knitVersion;
try {
  const bundleFile = join(work, 'knit-sea.cjs');
  const { version, chunks } = await bundle(bundleFile, join(work, 'chunks'));
  knitVersion = version;
  const mb = (f) => (statSync(f).size / 1e6).toFixed(1);
  log(`knit ${knitVersion}: main script ${mb(bundleFile)} MB; chunks ${chunks.map((c) => `${c} ${mb(join(work, 'chunks', `${c}.js`))} MB`).join(', ')}`);
  for (const arch of arches) await buildArch(arch, work, bundleFile, chunks);
  log('done');
} finally {
  rmSync(work, { recursive: true, force: true });
}
