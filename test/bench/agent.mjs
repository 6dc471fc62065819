/**
 * Benchmark: `knit crossvpc agent` watching 5,000 Nodes (Kubernetes' supported maximum) on the
 * stand-in API server (test/fakes/apiserver.mjs, the real list/watch wire format), both in a throwaway
 * network namespace: the first full sync (list + one nft transaction for every peer), the time from a
 * Node's creation to the map holding it, and the agent's resident memory. Alone: `node test/bench/agent.mjs`.
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CROSSVPC } from '../../dist/lib/defaults.js';

const NODES = 5000;
const knit = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));
const apiserver = fileURLToPath(new URL('../fakes/apiserver.mjs', import.meta.url));
const GOALS = { firstSyncS: 0.5, joinS: 2, rssMB: 100 };

const nth = (a, b, k) => `${a}.${b + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
const node = (name, internalIP, vpc, publicIP) => ({ name, internalIP, labels: { 'knit.dev/vpc': vpc }, annotations: { 'knit.dev/public-ip': publicIP } });

/** One admin call to the stand-in over its unix socket. */
const admin = (socketPath, method, path, body) =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text ? JSON.parse(text) : undefined));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });

/** Starts `argv` in `ns`; resolves its lines as they come through `onLine`. */
function start(ns, argv, env, onLine) {
  const child = spawn('ip', ['netns', 'exec', ns, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', (l) => onLine(`stderr: ${l}`));
  return child;
}

const until = (what, check, timeoutMs) =>
  new Promise((resolve, reject) => {
    const end = Date.now() + timeoutMs;
    const tick = () => (check() ? resolve() : Date.now() > end ? reject(new Error(`${what}: not within ${timeoutMs} ms`)) : setTimeout(tick, 5));
    tick();
  });

export async function benchAgent() {
  const name = `crossvpc agent, ${NODES} nodes`;
  if (process.getuid?.() !== 0) return { name, seconds: Number.NaN, skipped: 'needs root (ip netns)' };
  const ns = `knit-bench-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'knit-bench-agent-'));
  execFileSync('ip', ['netns', 'add', ns]);
  const children = [];
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const nodes = [node('local', '10.0.0.10', 'vpc-a', '203.0.113.10')];
    for (let k = 1; k <= NODES; k++) nodes.push(node(`peer-${k}`, nth(10, 1, k), 'vpc-b', nth(198, 18, k)));
    writeFileSync(join(dir, 'nodes.json'), JSON.stringify(nodes));
    const socket = join(dir, 'admin.sock');
    let listening;
    const ready = new Promise((r) => (listening = r));
    children.push(start(ns, ['node', apiserver, '--listen', '127.0.0.1:6443', '--admin', socket, '--nodes', join(dir, 'nodes.json'), '--parent-pid', String(process.pid)], {}, (l) => l === 'listening' && listening()));
    await ready;
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc/knit'), { recursive: true });
    mkdirSync(join(root, 'etc/kubernetes'), { recursive: true });
    writeFileSync(join(root, 'etc/knit/crossvpc-agent.json'), JSON.stringify({ node: 'local', kubeconfig: '/etc/kubernetes/kubelet.conf', mss: 1360, overlay: [{ protocol: 'udp', number: 8472 }] }));
    writeFileSync(join(root, 'etc/kubernetes/kubelet.conf'), [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters: [{ name: c, cluster: { server: "http://127.0.0.1:6443", insecure-skip-tls-verify: true } }]',
      'users: [{ name: u, user: { token: knit-test-token } }]', 'contexts: [{ name: c, context: { cluster: c, user: u } }]', '',
    ].join('\n'));
    const lines = [];
    // as its unit starts it
    const agent = start(ns, ['node', knit, 'crossvpc', 'agent'], { KNIT_HOST_ROOT: root, HOME: dir, NODE_OPTIONS: CROSSVPC.agent.nodeOptions }, (l) => lines.push({ at: performance.now(), l }));
    children.push(agent);
    await until('the first sync', () => lines.some((x) => x.l.includes('synced from the cluster')), 60_000);
    const firstSyncMs = Number(/in (\d+) ms/.exec(lines.find((x) => x.l.includes('synced from the cluster')).l)[1]);
    const rssMB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))[1]) / 1024;
    // a node joins: from its creation in the API to this node's map holding it
    const joins = [];
    for (let i = 1; i <= 5; i++) {
      const t = performance.now();
      await admin(socket, 'POST', '/nodes', node(`joined-${i}`, nth(10, 200, i), 'vpc-c', nth(198, 19, 200 * 256 + i)));
      await until('the join', () => lines.some((x) => x.l.includes(`added peer joined-${i}:`)), 10_000);
      joins.push(lines.find((x) => x.l.includes(`added peer joined-${i}:`)).at - t);
    }
    const table = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'map', 'ip', 'knit', 'peer_public'], { encoding: 'utf8' });
    if (!table.includes(nth(10, 200, 5))) throw new Error('the map does not hold the joined node');
    const joinS = [...joins].sort((a, b) => a - b)[2] / 1000;
    return [
      { name: `${name}: first full sync (list + one nft transaction)`, seconds: firstSyncMs / 1000, target: GOALS.firstSyncS },
      { name: `${name}: a node joins → every map (median of 5)`, seconds: joinS, target: GOALS.joinS },
      { name: `${name}: agent memory`, seconds: Number.NaN, note: `RSS ${rssMB.toFixed(0)} MB (goal < ${GOALS.rssMB} MB) ${rssMB < GOALS.rssMB ? 'ok' : 'OVER'}` },
    ];
  } finally {
    for (const c of children) c.kill('SIGKILL');
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await benchAgent());
