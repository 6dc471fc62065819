/**
 * `knit render --cloud-init`: the #cloud-config document (valid for cloud-init's own schema, within
 * ECS's user-data limit), the values it refuses, the shell quoting, and the boot script itself run against a
 * local HTTP server: it checks the download's SHA-256, passes the token only through the environment,
 * and takes the node's name and address from the instance.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { parse } from 'yaml';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUD_INIT, PATHS } from '../src/defaults.js';
import { UsageError } from '../src/errors.js';
import { binarySources, joinScript, renderCloudInit, shellQuote, type CloudInitOptions } from '../src/render/cloud-init.js';
import { loadSpec } from '../src/spec/load.js';
import type { Spec } from '../src/spec/schema.js';
import { knit } from './helpers/knit.js';
import { needTools, skipUnless } from './helpers/skip.js';
import { readFileSync } from 'node:fs';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const TOKEN = 'abcdef.0123456789abcdef';
const CA = `sha256:${'c'.repeat(64)}`;
const CERT_KEY = 'd'.repeat(64);
const base: CloudInitOptions = {
  role: 'worker',
  binaryUrl: 'https://bucket.oss-cn-hangzhou-internal.aliyuncs.com/knit/knit-linux-{arch}',
  sha256: [`x64=${HASH_A}`, `arm64=${HASH_B}`],
  token: TOKEN,
  caCertHash: CA,
};
const caseFile = 'test/cases/cross-vpc-flannel.yaml';
const { spec } = loadSpec({ file: { name: caseFile, text: readFileSync(new URL(`../${caseFile}`, import.meta.url), 'utf8') }, hostname: 'unused' });

let dir: string;
beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'knit-cloud-init-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

interface WriteFile { path: string; permissions: string; owner: string; content: string; encoding?: string }
const parsed = (text: string) => parse(text) as { write_files: WriteFile[]; runcmd: string[][] };
const fileAt = (text: string, path: string) => parsed(text).write_files.find((f) => f.path === path);

/** A spec of `n` nodes in one VPC (198.18.0.0/15, the benchmarking range). */
function bigSpec(n: number): Spec {
  const ip = (k: number) => `198.${18 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
  const nodes = Array.from({ length: n }, (_, k) => ({ name: `node-${k + 1}`, role: k === 0 ? 'control-plane' : 'worker', privateIP: ip(k + 1), vpc: 'vpc-a' }));
  return loadSpec({ file: { name: 'big.json', text: JSON.stringify({ kubernetes: { controlPlaneEndpoint: ip(1) }, nodes }) }, hostname: 'unused' }).spec;
}

describe('the #cloud-config document', () => {
  const { text, bytes } = renderCloudInit(spec, base);

  it('is a #cloud-config with the spec, the token and the script in write_files, the script in runcmd', () => {
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const doc = parsed(text);
    expect(doc.write_files.map((f) => [f.path, f.permissions, f.owner])).toEqual([
      [CLOUD_INIT.specFile, '0600', 'root:root'],
      [CLOUD_INIT.tokenFile, '0600', 'root:root'],
      [CLOUD_INIT.script, '0700', 'root:root'],
    ]);
    expect(doc.runcmd).toEqual([['/bin/sh', CLOUD_INIT.script]]);
    expect(bytes).toBe(Buffer.byteLength(text));
  });

  it('carries the spec so that `--config` reads it back to the same spec', () => {
    const specFile = fileAt(text, CLOUD_INIT.specFile)!;
    expect(loadSpec({ file: { name: 'cluster.json', text: specFile.content }, hostname: 'unused' }).spec).toEqual(spec);
  });

  it('holds the token in its 0600 file only: not in the script, nor anywhere else', () => {
    expect(text.split(TOKEN).length - 1).toBe(1);
    expect(fileAt(text, CLOUD_INIT.tokenFile)!.content).toBe(`${TOKEN}\n`);
    const script = fileAt(text, CLOUD_INIT.script)!.content;
    expect(script).not.toContain(TOKEN.split('.')[1]);
    expect(script).not.toMatch(/set -[a-z]*x/);
    expect(script).toContain(`KNIT_JOIN_TOKEN="$(cat '${CLOUD_INIT.tokenFile}')"`);
    expect(script).not.toMatch(/--token/);
  });

  it('a control plane: the certificate key in its own 0600 file, and join --control-plane', () => {
    const cp = renderCloudInit(spec, { ...base, role: 'control-plane', certificateKey: CERT_KEY }).text;
    expect(fileAt(cp, CLOUD_INIT.certificateKeyFile)).toMatchObject({ permissions: '0600', content: `${CERT_KEY}\n` });
    const script = fileAt(cp, CLOUD_INIT.script)!.content;
    expect(script).toMatch(/ join --yes .* --control-plane; then/);
    expect(script).toContain("--role 'control-plane'");
    expect(script).not.toContain(CERT_KEY);
  });

  it('stays within ECS\'s user-data limit (16 KB): a large spec goes gzip+base64, a larger one is refused naming nodes', () => {
    const mid = renderCloudInit(bigSpec(1000), base);
    expect(mid.specCompressed).toBe(true);
    expect(mid.bytes).toBeLessThanOrEqual(CLOUD_INIT.maxUserDataBytes);
    const f = fileAt(mid.text, CLOUD_INIT.specFile)!;
    expect(f.encoding).toBe('gz+b64');
    expect(JSON.parse(gunzipSync(Buffer.from(f.content, 'base64')).toString()).nodes).toHaveLength(1000);
    expect(() => renderCloudInit(bigSpec(5000), base)).toThrow(UsageError);
    expect(() => renderCloudInit(bigSpec(5000), base)).toThrow(new RegExp(`^nodes: the user-data is \\d+ bytes .* over ECS's limit of ${CLOUD_INIT.maxUserDataBytes} bytes`));
  });

  it.each([
    ['a URL with a space', { binaryUrl: 'https://bucket/knit linux' }, /^--binary-url: /],
    ['a URL with a quote', { binaryUrl: "https://bucket/knit'$(reboot)'" }, /^--binary-url: /],
    ['a URL with a command substitution', { binaryUrl: 'https://bucket/$(reboot)' }, /^--binary-url: /],
    ['a URL that is not http(s)', { binaryUrl: 'ftp://bucket/knit' }, /^--binary-url: /],
    ['no hash', { sha256: [] }, /^--sha256: required/],
    ['a short hash', { binaryUrl: 'https://bucket/knit', sha256: ['abc'] }, /^--sha256: one hash/],
    ['{arch} without ARCH=', { sha256: [HASH_A] }, /^--sha256: .*ARCH=HASH/],
    ['an unknown arch', { sha256: [`riscv64=${HASH_A}`] }, /^--sha256: .*ARCH=HASH/],
    ['an arch twice', { sha256: [`x64=${HASH_A}`, `x64=${HASH_B}`] }, /^--sha256: x64 is given twice/],
    ['a malformed token', { token: 'not-a-token' }, /^--token: /],
    ['a malformed CA hash', { caCertHash: 'sha256:xyz' }, /^--ca-cert-hash: /],
    ['a control plane without its certificate key', { role: 'control-plane' as const }, /^--certificate-key: required/],
    ['a worker with a certificate key', { certificateKey: CERT_KEY }, /^--certificate-key: only/],
  ])('refuses %s (exit 2, naming the flag)', (_what, change, message) => {
    const attempt = () => renderCloudInit(spec, { ...base, ...change });
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(message);
  });

  it('one URL for one architecture, or one per architecture with {arch}', () => {
    expect(binarySources('https://m.example/knit-linux-x64', [HASH_A.toUpperCase()])).toEqual({
      x64: { url: 'https://m.example/knit-linux-x64', sha256: HASH_A },
      arm64: { url: 'https://m.example/knit-linux-x64', sha256: HASH_A },
    });
    expect(binarySources('http://m.example/{arch}/knit', [`arm64=${HASH_B}`])).toEqual({ arm64: { url: 'http://m.example/arm64/knit', sha256: HASH_B } });
  });
});

describe('shellQuote', () => {
  it('any string comes back from sh exactly as it was', async () => {
    const values = fc.sample(fc.string({ unit: fc.constantFrom("'", '"', '\\', '$', '`', ' ', '\n', '*', ';', 'a', 'é', '!', '(', ')') }), 40);
    values.push("it's", "'", "''", '$(reboot)', '`id`');
    const script = values.map((v) => `printf '%s\\0' ${shellQuote(v)}`).join('\n');
    const { stdout } = await execa('sh', ['-c', script], { stripFinalNewline: false });
    expect(stdout.split('\0').slice(0, -1)).toEqual(values);
  });
});

describe('cloud-init schema', { ...skipUnless(needTools(['cloud-init'])) }, () => {
  it.each([
    ['a worker', base],
    ['a control plane', { ...base, role: 'control-plane' as const, certificateKey: CERT_KEY }],
  ])('%s: cloud-init schema --config-file accepts the document', async (_what, opts) => {
    const file = join(dir, `schema-${opts.role}.yaml`);
    await writeFile(file, renderCloudInit(spec, opts).text);
    const r = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
    expect(r.stdout + r.stderr).toContain('Valid cloud-config');
    expect(r.exitCode).toBe(0);
  });

  it('the gzip+base64 spec too', async () => {
    const file = join(dir, 'schema-big.yaml');
    await writeFile(file, renderCloudInit(bigSpec(1000), base).text);
    const r = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
    expect([r.exitCode, r.stdout + r.stderr]).toEqual([0, expect.stringContaining('Valid cloud-config')]);
  });
});

describe('the boot script, run against a local server', { ...skipUnless(needTools(['sh', 'sha256sum', 'curl'])) }, () => {
  // the fake knit records its argv and the token it was given through the environment
  const fakeKnit = (record: string) =>
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${record}'\nprintf 'env token=%s\\n' "\${KNIT_JOIN_TOKEN:-none}" >> '${record}'\n`;
  let server: Server;
  let hits = 0;
  let body = '';
  let root: string;
  let url: string;

  beforeAll(async () => {
    root = await mkdtemp(join(dir, 'boot-'));
    body = fakeKnit(join(root, 'record'));
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/knit/knit-linux-x64' || req.url === '/knit/knit-linux-arm64') res.end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/knit/knit-linux-{arch}`;
    // `ip route get` and `hostname` as on an ECS instance
    const bin = join(root, 'bin');
    await execa('mkdir', ['-p', bin]);
    await writeFile(join(bin, 'ip'), '#!/bin/sh\necho "100.100.100.200 via 192.0.2.1 dev eth0 src 192.0.2.10 uid 0"\n');
    await writeFile(join(bin, 'hostname'), '#!/bin/sh\necho iZbp1TestZ\n');
    await chmod(join(bin, 'ip'), 0o755);
    await chmod(join(bin, 'hostname'), 0o755);
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  /** The script with its host paths moved under `root` (the test runs it as it is otherwise). */
  async function runScript(sha: string) {
    const moved = (p: string) => join(root, p);
    const opts = { ...base, binaryUrl: url, sha256: [`x64=${sha}`, `arm64=${sha}`] };
    let script = joinScript(spec, opts);
    for (const p of [CLOUD_INIT.binary, CLOUD_INIT.tokenFile, CLOUD_INIT.certificateKeyFile, CLOUD_INIT.specFile, CLOUD_INIT.log, PATHS.logDir])
      script = script.split(`'${p}'`).join(`'${moved(p)}'`).split(` ${p}`).join(` ${moved(p)}`);
    await execa('mkdir', ['-p', join(root, 'etc/knit'), join(root, 'usr/local/bin')]);
    await writeFile(moved(CLOUD_INIT.tokenFile), `${TOKEN}\n`, { mode: 0o600 });
    await writeFile(moved(CLOUD_INIT.script), script, { mode: 0o700 });
    const r = await execa('sh', [moved(CLOUD_INIT.script)], { reject: false, env: { PATH: `${join(root, 'bin')}:${process.env.PATH}` } });
    const log = await readFile(moved(CLOUD_INIT.log), 'utf8').catch(() => '');
    const record = await readFile(join(root, 'record'), 'utf8').catch(() => '');
    return { code: r.exitCode, stdout: r.stdout, log, record, installed: await stat(moved(CLOUD_INIT.binary)).then(() => true, () => false) };
  }

  it('a download whose SHA-256 differs is not installed, and nothing runs', async () => {
    const r = await runScript(HASH_A);
    expect(r.code).toBe(1);
    expect(r.log).toMatch(/knit cloud-init: http:\/\/127\.0\.0\.1:\d+\/knit\/knit-linux-(x64|arm64): SHA-256 [0-9a-f]{64}, expected a{64}; not installed/);
    expect(r.installed).toBe(false);
    expect(r.record).toBe('');
  });

  it('installs knit, runs preflight --fix then join; the token only through the environment; removes it after', async () => {
    const sha = createHash('sha256').update(body).digest('hex');
    const r = await runScript(sha);
    expect(r.code, r.log).toBe(0);
    expect(r.stdout).toBe(`knit cloud-init: logging to ${join(root, CLOUD_INIT.log)}`);
    const spec = join(root, CLOUD_INIT.specFile);
    expect(r.record.split('\n')).toEqual([
      `preflight --fix --config ${spec} --node-name izbp1testz --advertise-address 192.0.2.10 --role worker`,
      'env token=none',
      `join --yes --config ${spec} --node-name izbp1testz --advertise-address 192.0.2.10 --endpoint 203.0.113.10:6443 --ca-cert-hash ${CA}`,
      `env token=${TOKEN}`,
      '',
    ]);
    expect(r.log).not.toContain(TOKEN);
    expect(r.log).toMatch(/installed knit from .* at /);
    expect(r.log).toMatch(/joined\n$/);
    await expect(stat(join(root, CLOUD_INIT.tokenFile))).rejects.toThrow();
    expect((await stat(join(root, CLOUD_INIT.binary))).mode & 0o777).toBe(0o755);

    // again (by hand): knit is there with the right hash, so nothing is downloaded
    const before = hits;
    await rm(join(root, 'record'));
    const again = await runScript(sha);
    expect(again.code).toBe(0);
    expect(hits).toBe(before);
    expect(again.log).toContain('knit already installed at');
  });
});

describe('knit render --cloud-init (the CLI)', () => {
  const args = ['render', '--cloud-init', '-f', caseFile, '--binary-url', base.binaryUrl, '--sha256', `x64=${HASH_A}`, '--ca-cert-hash', CA];

  it('prints the document to stdout, its size on stderr; the token may come from KNIT_JOIN_TOKEN', async () => {
    const r = await knit(args, { env: { KNIT_JOIN_TOKEN: TOKEN } });
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}\n`).toBe(renderCloudInit(spec, { ...base, sha256: [`x64=${HASH_A}`] }).text);
    expect(r.stderr).toMatch(new RegExp(`^user-data: \\d+ bytes of ECS's ${CLOUD_INIT.maxUserDataBytes}`));
  });

  it('--out DIR: cloud-init-<role>.yaml, mode 0600', async () => {
    const out = join(dir, 'ci-out');
    const r = await knit([...args, '--token', TOKEN, '--role', 'worker', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(out, 'cloud-init-worker.yaml'))).mode & 0o777).toBe(0o600);
  });

  it('a missing token, URL or hash is bad input naming the flag', async () => {
    expect(await knit(args)).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^error: --token: required/) });
    const noUrl = args.filter((a, i) => a !== '--binary-url' && args[i - 1] !== '--binary-url');
    expect(await knit([...noUrl, '--token', TOKEN])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --binary-url: required/) });
    expect(await knit([...args, '--token', TOKEN, '--all-nodes'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --all-nodes: /) });
  });
});

describe('what the boot script runs, as knit takes it (dry runs, off ECS)', () => {
  // a one-VPC cluster: the new instance shares the control plane's /24, so it needs no EIP
  const oneVpc = loadSpec({
    file: { name: 'one-vpc.yaml', text: 'kubernetes: { controlPlaneEndpoint: 172.16.0.10 }\nnodes: [{ name: cp-1, role: control-plane, privateIP: 172.16.0.10 }]\n' },
    hostname: 'unused',
  }).spec;
  const node = ['--node-name', 'izbp1testz', '--advertise-address', '172.16.0.77'];
  let config: string;
  beforeAll(async () => {
    config = join(dir, 'cluster.json');
    await writeFile(config, fileAt(renderCloudInit(oneVpc, base).text, CLOUD_INIT.specFile)!.content);
  });

  it('preflight --fix takes the spec, the instance\'s name and address, and the role', async () => {
    const r = await knit(['preflight', '--fix', '--dry-run', '--config', config, ...node, '--role', 'worker']);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.code).toBe(0);
  });

  it('join takes the token from KNIT_JOIN_TOKEN (and refuses to go without one)', async () => {
    const argv = ['join', '--dry-run', '--yes', '--config', config, ...node, '--endpoint', '172.16.0.10:6443', '--ca-cert-hash', CA];
    const r = await knit(argv, { env: { KNIT_JOIN_TOKEN: TOKEN } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('izbp1testz');
    expect(r.stdout + r.stderr).not.toContain(TOKEN.split('.')[1]);
    expect(await knit(argv)).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --token: required/) });
  });
});
