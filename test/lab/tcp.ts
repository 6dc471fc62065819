/** A TCP server and client run with node inside lab namespaces: the server records who connected. */
import { createInterface } from 'node:readline';
import type { Lab } from './netns.js';

/** Prints `listening`, then each client's address, and answers `knit`. */
const SERVER = `
const [host, port] = process.argv.slice(1);
require('node:net')
  .createServer((s) => { console.log(s.remoteAddress); s.end('knit\\n'); })
  .listen(Number(port), host, () => console.log('listening'));
`;

/** Sends `line` (when given) on connect; prints one JSON line: {ok, reply} or {ok: false, error}. */
const CLIENT = `
const [host, port, timeout, localAddress, line] = process.argv.slice(1);
const done = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
const s = require('node:net').connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) }, () => line && s.write(line + '\\n'));
let reply = '';
s.setTimeout(Number(timeout), () => done({ ok: false, error: 'timeout' }));
s.on('data', (d) => (reply += d));
s.on('end', () => done({ ok: true, reply: reply.trim() }));
s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
`;

export interface TcpServer {
  /** Source addresses of the connections so far, in order. */
  readonly clients: string[];
}

export const startTcpServer = (lab: Lab, ns: string, host: string, port: number): Promise<TcpServer> =>
  startServer(lab, ns, SERVER, [host, String(port)]);

/** Runs `script` (a server that prints `listening`, then one line per client) in `ns` until it listens. */
async function startServer(lab: Lab, ns: string, script: string, args: string[]): Promise<TcpServer> {
  const child = lab.spawn(ns, ['node', '-e', script, ...args]);
  const server: TcpServer = { clients: [] };
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => reject(new Error(`server in ${ns} exited with ${code}: ${stderr}`)));
    lines.on('line', (l) => (l === 'listening' ? resolve() : server.clients.push(l)));
  });
  return server;
}

export interface ConnectResult {
  ok: boolean;
  reply?: string;
  error?: string;
}

export async function tryConnect(
  lab: Lab,
  ns: string,
  host: string,
  port: number,
  opts: { timeoutMs?: number; localAddress?: string; line?: string } = {},
): Promise<ConnectResult> {
  const out = await lab.run(ns, ['node', '-e', CLIENT, host, String(port), String(opts.timeoutMs ?? 1500), opts.localAddress ?? '', opts.line ?? '']);
  return JSON.parse(out) as ConnectResult;
}

/** The source address of the server's `n`-th client (1-based), waiting briefly for its log line. */
export async function clientAddress(server: TcpServer, n: number, timeoutMs = 2000): Promise<string | undefined> {
  for (const end = Date.now() + timeoutMs; server.clients.length < n && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 20));
  return server.clients[n - 1];
}

/** Prints `listening`, then each client's address; sends each client `bytes` bytes and closes. */
const BULK_SERVER = `
const [host, port, bytes] = process.argv.slice(1);
const payload = Buffer.alloc(Number(bytes), 'k');
require('node:net')
  .createServer((s) => { console.log(s.remoteAddress); s.on('error', () => {}); s.end(payload); })
  .listen(Number(port), host, () => console.log('listening'));
`;

/** Prints one JSON line: {ok, bytes} once the server closed, or {ok: false, bytes, error} (bytes so far). */
const BULK_CLIENT = `
const [host, port, timeout] = process.argv.slice(1);
let bytes = 0;
const done = (r) => { console.log(JSON.stringify({ ...r, bytes })); process.exit(0); };
const s = require('node:net').connect({ host, port: Number(port) });
setTimeout(() => done({ ok: false, error: 'timeout' }), Number(timeout));
s.on('data', (d) => (bytes += d.length));
s.on('end', () => done({ ok: true }));
s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
`;

/** A server that sends `bytes` bytes to each client: full-size TCP segments, to test a path's MTU. */
export const startBulkServer = (lab: Lab, ns: string, host: string, port: number, bytes: number): Promise<TcpServer> =>
  startServer(lab, ns, BULK_SERVER, [host, String(port), String(bytes)]);

export interface BulkResult {
  ok: boolean;
  /** Bytes received (all of them when ok). */
  bytes: number;
  error?: string;
}

/** Reads everything a bulk server sends; gives up after timeoutMs in all (a black hole stalls, it does not fail). */
export async function fetchBulk(lab: Lab, ns: string, host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<BulkResult> {
  const out = await lab.run(ns, ['node', '-e', BULK_CLIENT, host, String(port), String(opts.timeoutMs ?? 5000)]);
  return JSON.parse(out) as BulkResult;
}
