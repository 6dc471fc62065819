/**
 * The local node's public IP from the ECS metadata service, against a loopback stand-in that speaks the
 * real protocol: PUT /latest/api/token with a TTL header, then the token on every read; 404 for a path
 * the instance does not have (eipv4 without an EIP).
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataClient } from '../src/cloud/alicloud/metadata.js';
import { knit } from './helpers/knit.js';
import { describeLab, Lab, probeLabSupport } from './lab/netns.js';

const TOKEN = 'tok-123';
let server: Server;
let base: string;
let eip: string | undefined = '198.51.100.20';
const requests: string[] = [];
/** Answers to give eipv4 before the real one (the service throttles with 429). */
const eipFirst: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      const ttl = Number(req.headers['x-aliyun-ecs-metadata-token-ttl-seconds']);
      if (!(ttl >= 1 && ttl <= 21600)) return void res.writeHead(400).end();
      return void res.end(TOKEN);
    }
    if (req.headers['x-aliyun-ecs-metadata-token'] !== TOKEN) return void res.writeHead(401).end();
    const status = req.url === '/latest/meta-data/eipv4' ? eipFirst.shift() : undefined;
    if (status !== undefined) return void res.writeHead(status).end();
    if (req.url === '/latest/meta-data/eipv4' && eip) return void res.end(eip);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/latest/meta-data/`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('MetadataClient', () => {
  it('takes a session token first and reads eipv4 with it; 404 means no EIP', async () => {
    requests.length = 0;
    expect(await new MetadataClient(base).eip()).toEqual({ ip: '198.51.100.20' });
    expect(requests).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/eipv4']);
    eip = undefined;
    expect(await new MetadataClient(base).eip()).toEqual({ ip: undefined });
    eip = '198.51.100.20';
  });

  it('retries a throttled (429) or failing (5xx) answer twice, then says what the service answered', async () => {
    requests.length = 0;
    eipFirst.push(429, 503);
    expect(await new MetadataClient(base).eip()).toEqual({ ip: '198.51.100.20' });
    expect(requests.filter((r) => r.endsWith('eipv4'))).toHaveLength(3);
    eipFirst.push(500, 500, 500);
    expect((await new MetadataClient(base).eip()).error).toMatch(/metadata eipv4: HTTP 500/);
  });

  it('says plainly when nothing answers', async () => {
    const r = await new MetadataClient('http://127.0.0.1:9/latest/meta-data/').eip();
    expect(r.ip).toBeUndefined();
    expect(r.error).toMatch(/^the ECS metadata service \(http:\/\/127\.0\.0\.1:9\/latest\/meta-data\/\) is not reachable/);
  });
});

describe('knit crossvpc on a node whose spec has no public IP', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-md-'));
    config = join(dir, 'cluster.yaml');
    const text = await readFile(fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url)), 'utf8');
    await writeFile(config, text.replace(', publicIP: 198.51.100.20', ''));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const plan = (url: string) => knit(['crossvpc', 'apply', '--dry-run', '-f', config, '--node-name', 'worker-1'], { env: { KNIT_ECS_METADATA_URL: url } });

  it('uses the EIP from the metadata service', async () => {
    const r = await plan(base);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('worker-1: public IP 198.51.100.20 (the EIP, from the ECS metadata service)');
    expect(r.stdout).toContain('note: peers: master-1 (172.16.0.10 → 203.0.113.10)');
    expect(r.stdout).toContain('write /etc/knit/crossvpc.nft'); // the map is planned: the local public IP was found
  });

  it('without an EIP or off ECS, names the field and exits 2', async () => {
    const r = await plan('http://127.0.0.1:9/latest/meta-data/');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not reachable');
    expect(r.stderr).toMatch(/error: nodes\[1\]\.publicIP: worker-1 has peers outside its VPC \(master-1\)/);
  });
});

/**
 * Off ECS the metadata address drops packets: a connect that never completes. The client must say so
 * after its 1 s and leave nothing behind (fetch's connect attempt outlived its abort by ~10 s, so the
 * process lingered ~11 s). The client runs in a child process inside a namespace whose peer drops every
 * packet to port 80; right after the answer the child lists what still keeps its event loop alive.
 */
const dropSupport = await probeLabSupport(['nft']);
describeLab('MetadataClient against an address that drops packets', dropSupport, () => {
  const lab = new Lab();
  let client: string;
  let ns: string;
  beforeAll(async () => {
    ns = await lab.addNamespace('md');
    const peer = await lab.addNamespace('drop');
    const [a, b] = [`md${lab.id}`, `dr${lab.id}`];
    await lab.host(['ip', '-n', ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer]);
    await lab.run(ns, ['ip', 'addr', 'add', '192.0.2.2/24', 'dev', a]);
    await lab.run(ns, ['ip', 'link', 'set', a, 'up']);
    await lab.run(peer, ['ip', 'addr', 'add', '192.0.2.1/24', 'dev', b]);
    await lab.run(peer, ['ip', 'link', 'set', b, 'up']);
    await lab.run(peer, ['nft', '-f', '-'], 'table inet knit_test {\n chain in {\n type filter hook input priority 0;\n tcp dport 80 drop\n }\n}\n');
    const dir = await mkdtemp(join(tmpdir(), 'knit-md-'));
    const { build } = await import('esbuild');
    await build({ entryPoints: [fileURLToPath(new URL('../src/cloud/alicloud/metadata.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'metadata.mjs'), logLevel: 'error' });
    client = join(dir, 'client.mjs');
    await writeFile(
      client,
      [
        "const { MetadataClient } = await import('./metadata.mjs');",
        "const r = await new MetadataClient('http://192.0.2.1/latest/meta-data/').identity();",
        "// what keeps the loop alive, but this process's own stdio pipes",
        "const open = () => process.getActiveResourcesInfo().filter((x) => x !== 'PipeWrap' && x !== 'TTYWrap');",
        '// a destroyed socket closes in the close phase of the loop turn: look a few turns later',
        'let turns = 0;',
        'const look = () => (++turns < 10 && open().length > 0 ? setImmediate(look) : console.log(JSON.stringify({ r, left: open() })));',
        'setImmediate(look);',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await lab.destroy();
    if (client) await rm(join(client, '..'), { recursive: true, force: true });
  });

  it('says "no answer within 1 s", holds no socket or timer afterwards, and the process ends by itself', async () => {
    const { execa } = await import('execa');
    // the 8 s timeout is a failure guard only; the assertions are on what is left open
    const r = await execa('ip', ['netns', 'exec', ns, 'node', client], { reject: false, timeout: 8_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(0);
    const { r: answer, left } = JSON.parse(String(r.stdout)) as { r: { notOnEcs?: string }; left: string[] };
    expect(answer.notOnEcs).toMatch(/not reachable \(no answer within 1 s: not on ECS\?\)/);
    expect(left).toEqual([]);
  });
});
