/**
 * Starts test/fakes/apiserver.mjs (a Kubernetes API server stand-in for Node list/watch, on the real wire
 * format) and drives it through its admin socket. In a lab, the server runs inside a network namespace
 * (`lab.spawn`, so lab.destroy() kills it) and agents in other namespaces reach it over the lab's
 * network; the admin socket is a file, so the harness reaches it from anywhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../lab/netns.js';

export const FAKE_APISERVER_SCRIPT = fileURLToPath(new URL('../fakes/apiserver.mjs', import.meta.url));
export const FAKE_APISERVER_TOKEN = 'knit-test-token';

/** A node as the harness describes it; the server fills in the rest of a v1 Node (uid, kubelet labels, status). */
export interface FakeNodeInput {
  name: string;
  /** status.addresses InternalIP; leave it out for a node whose kubelet has not reported one yet. */
  internalIP?: string;
  /** On top of the kubelet's own (kubernetes.io/hostname, kubernetes.io/os, …). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** spec.podCIDR and spec.podCIDRs. */
  podCIDR?: string;
}

export type FakeWriteType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'UNCHANGED';

export interface FakeWriteResult {
  /** UNCHANGED: the same input as the stored node; like the apiserver, no new resourceVersion, no event. */
  type: FakeWriteType;
  /** The server's resourceVersion after the write. */
  resourceVersion: string;
}

export interface FakeBulkResult {
  added: number;
  modified: number;
  unchanged: number;
  resourceVersion: string;
}

export interface FakeApiStats {
  /** Successful list requests (each page counts). */
  lists: number;
  /** Watch requests answered with a stream (including those that got only the 410 ERROR line). */
  watches: number;
  openWatches: number;
  resourceVersion: string;
  nodes: number;
  /** BOOKMARK events sent, over all watches. */
  bookmarks: number;
  /** API requests handled, including refused ones. */
  requests: number;
  unauthorized: number;
  compactedResourceVersion: string;
  down: FakeDownMode | null;
}

/** One API request as the server saw it (the last 200). */
export interface FakeApiRequest {
  method: string;
  url: string;
  /** 0 while a watch is still streaming. */
  status: number;
}

/**
 * refuse: open API connections are cut and the port closed (connection refused), the apiserver gone.
 * hang: connections stay open and new requests are accepted, but nothing moves until up (a partition).
 */
export type FakeDownMode = 'refuse' | 'hang';

export interface FakeApiAdmin {
  addNode(node: FakeNodeInput): Promise<FakeWriteResult>;
  /** One resourceVersion per node, all validated before the first is written. */
  addNodes(nodes: FakeNodeInput[]): Promise<FakeBulkResult>;
  deleteNode(name: string): Promise<FakeWriteResult>;
  /** A kubelet status update (lastHeartbeatTime) on these nodes, or all: MODIFIED events that change nothing else. */
  heartbeat(names?: string[]): Promise<{ modified: number; resourceVersion: string }>;
  /** Moves the resourceVersion without a Node event, as any other object's change in a cluster does. */
  bump(): Promise<{ resourceVersion: string }>;
  /** Every earlier resourceVersion becomes too old; open watches get the 410 ERROR line and end. */
  compact(): Promise<{ resourceVersion: string; closedWatches: number }>;
  down(mode?: FakeDownMode): Promise<void>;
  up(): Promise<void>;
  stats(): Promise<FakeApiStats>;
  requests(): Promise<FakeApiRequest[]>;
}

export interface FakeApiServer {
  /** http://HOST:PORT as bound (the port resolved when `listen` asked for port 0). */
  readonly url: string;
  readonly pid: number;
  /** The admin socket's path (the server removes it when it stops, unless SIGKILLed). */
  readonly adminSocket: string;
  readonly admin: FakeApiAdmin;
  /** Writes a kubeconfig in `dir` for `server` (default: url) with the token; returns its path. */
  kubeconfig(server?: string, token?: string): string;
  /** Stops the server (SIGTERM, then SIGKILL); it removes its admin socket. Idempotent. */
  close(): Promise<void>;
}

export interface FakeApiServerOptions {
  /** With `ns`, the server runs inside that namespace of the lab. */
  lab?: Lab;
  ns?: string;
  /** HOST:PORT; port 0 picks a free one (see `url`). */
  listen: string;
  /** Where the admin socket, the nodes file and kubeconfigs go (keep it short: a unix socket path is ≤ 107 bytes). */
  dir: string;
  token?: string;
  /** BOOKMARK period for watches that ask for them (allowWatchBookmarks=true); the server's default is 60000. */
  bookmarkMs?: number;
  /** Lifetime of a watch that set no timeoutSeconds: random in [s, 2s]; the server's default is 1800. */
  minRequestTimeoutS?: number;
  /** Loaded before `listening` (through a file, so thousands cost no admin round trips). */
  nodes?: FakeNodeInput[];
  /** How long to wait for `listening` (default 10 s). */
  startTimeoutMs?: number;
}

/** `count` nodes node-00001… with InternalIPs 10.x.y.z from 10.0.0.1; `extra(i)` adds to node i (0-based). */
export function fakeNodes(count: number, extra?: (i: number) => Partial<FakeNodeInput>): FakeNodeInput[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    return {
      name: `node-${String(n).padStart(5, '0')}`,
      internalIP: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      ...extra?.(i),
    };
  });
}

let started = 0;

export async function startFakeApiServer(opts: FakeApiServerOptions): Promise<FakeApiServer> {
  const socket = join(opts.dir, `apiserver-${process.pid}-${started++}.sock`);
  if (Buffer.byteLength(socket) > 107) throw new Error(`admin socket path too long for a unix socket (${socket}): use a shorter dir`);
  const token = opts.token ?? FAKE_APISERVER_TOKEN;
  const args = [FAKE_APISERVER_SCRIPT, '--listen', opts.listen, '--admin', socket, '--token', token, '--parent-pid', String(process.pid)];
  if (opts.bookmarkMs !== undefined) args.push('--bookmark-ms', String(opts.bookmarkMs));
  if (opts.minRequestTimeoutS !== undefined) args.push('--min-request-timeout', String(opts.minRequestTimeoutS));
  if (opts.nodes) {
    const file = `${socket.slice(0, -'.sock'.length)}-nodes.json`;
    writeFileSync(file, JSON.stringify(opts.nodes));
    args.push('--nodes', file);
  }
  if ((opts.lab === undefined) !== (opts.ns === undefined)) throw new Error('startFakeApiServer: give both lab and ns, or neither');
  const child: ChildProcess =
    opts.lab && opts.ns ? opts.lab.spawn(opts.ns, [process.execPath, ...args]) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const late = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(late);
    }
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`fake apiserver: no 'listening' after ${opts.startTimeoutMs ?? 10_000} ms\n${stderr}`)), opts.startTimeoutMs ?? 10_000);
      lines.on('line', (line) => {
        if (line.trim() !== 'listening') return;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`fake apiserver exited (${code ?? signal}) before listening: ${stderr.trim()}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } catch (e) {
    await kill();
    throw e;
  }

  const call = <T>(method: string, path: string, body?: unknown) => adminCall<T>(socket, method, path, body);
  const info = await call<{ listen: string; pid: number }>('GET', '/info');
  const url = `http://${info.listen}`;
  let kubeconfigs = 0;
  return {
    url,
    pid: info.pid,
    adminSocket: socket,
    admin: {
      addNode: (node) => call('POST', '/nodes', node),
      addNodes: (nodes) => call('POST', '/bulk', nodes),
      deleteNode: (name) => call('DELETE', `/nodes/${encodeURIComponent(name)}`),
      heartbeat: (names) => call('POST', '/heartbeat', names ? { names } : {}),
      bump: () => call('POST', '/bump'),
      compact: () => call('POST', '/compact'),
      down: async (mode = 'refuse') => void (await call('POST', '/down', { mode })),
      up: async () => void (await call('POST', '/up')),
      stats: () => call('GET', '/stats'),
      requests: () => call('GET', '/requests'),
    },
    kubeconfig(server = url, withToken = token) {
      const path = join(opts.dir, `kubeconfig-${process.pid}-${kubeconfigs++}.yaml`);
      writeFileSync(path, kubeconfigYaml(server, withToken), { mode: 0o600 });
      return path;
    },
    close: kill,
  };
}

/**
 * A kubeconfig for a plain-HTTP server. client-node refuses an http:// server unless the cluster says
 * insecure-skip-tls-verify ("HTTP protocol is not allowed when skipTLSVerify is not set or false").
 */
export function kubeconfigYaml(server: string, token: string = FAKE_APISERVER_TOKEN): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${JSON.stringify(server)}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: fake',
    '  user:',
    `    token: ${JSON.stringify(token)}`,
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: fake',
    'current-context: fake',
    '',
  ].join('\n');
}

function adminCall<T>(socketPath: string, method: string, path: string, body?: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            return reject(new Error(`fake apiserver admin ${method} ${path}: not JSON: ${text}`));
          }
          if (res.statusCode !== 200) return reject(new Error(`fake apiserver admin ${method} ${path}: ${res.statusCode} ${(parsed as { error?: string }).error ?? text}`));
          resolve(parsed as T);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
