/**
 * The sockets of `knit netcheck`: a listener that answers on the ports a node needs open (TCP servers,
 * UDP responders), the probes that test them from another node, and the path MTU through the real
 * `ping -M do` (Don't Fragment; node has no way to set DF on a datagram). What the results mean is
 * decided in src/netcheck/.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseLinkMtu, parsePingHint, parseRouteGet, pingPayload, searchPathMtu } from '../netcheck/mtu.js';
import type { ListenPort, MtuOutcome, PingAttempt, PortOutcome, ProbeFailure } from '../netcheck/types.js';
import { parseTcpGreeting, parseUdpReply, tcpGreeting, udpReply, udpRequest } from '../netcheck/wire.js';
import { CommandNotFoundError, type Exec } from './exec.js';

const FAILURES: Record<string, ProbeFailure> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'host-unreachable',
  ENETUNREACH: 'net-unreachable',
  ETIMEDOUT: 'timeout',
};
const failureOf = (e: NodeJS.ErrnoException): ProbeFailure => FAILURES[e.code ?? ''] ?? 'error';
const since = (start: number): number => Math.round(performance.now() - start);
/** An IPv4 address as the socket reports it (a dual-stack socket says ::ffff:a.b.c.d). */
const plain = (address: string | undefined): string => (address ?? 'unknown').replace(/^::ffff:/, '');

// ── listener ────────────────────────────────────────────────────────────────────────────────────

export interface Contact {
  protocol: 'tcp' | 'udp';
  port: number;
  from: string;
}

export interface Binding extends ListenPort {
  /** The error code when the port could not be bound (EADDRINUSE, EACCES, …). */
  error?: string;
}

export interface Listener {
  /** Every requested port, bound or with its error; `port` is the bound port (for 0: the one the kernel chose). */
  bindings: Binding[];
  close(): Promise<void>;
}

/** A TCP server and its open connections (closed at once on stop: a greeting needs no goodbye). */
interface TcpListener {
  server: Server;
  sockets: Set<TcpSocket>;
}

function listenTcp(p: ListenPort, host: string, onContact: (c: Contact) => void): Promise<{ binding: Binding; tcp?: TcpListener }> {
  return new Promise((resolve) => {
    const sockets = new Set<TcpSocket>();
    const server = createServer((sock) => {
      const from = plain(sock.remoteAddress);
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      sock.on('error', () => undefined); // a prober that went away
      sock.end(tcpGreeting(from));
      onContact({ protocol: 'tcp', port: p.port, from });
    });
    server.once('error', (e: NodeJS.ErrnoException) => resolve({ binding: { ...p, error: e.code ?? e.message } }));
    server.listen({ port: p.port, host, exclusive: true }, () => {
      const addr = server.address();
      resolve({ binding: { ...p, port: typeof addr === 'object' && addr ? addr.port : p.port }, tcp: { server, sockets } });
    });
  });
}

function listenUdp(p: ListenPort, host: string, onContact: (c: Contact) => void): Promise<{ binding: Binding; socket?: UdpSocket }> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const onBindError = (e: NodeJS.ErrnoException) => {
      socket.close();
      resolve({ binding: { ...p, error: e.code ?? e.message } });
    };
    socket.once('error', onBindError);
    socket.on('message', (msg, rinfo) => {
      const reply = udpReply(msg.toString('utf8'), rinfo.address);
      if (reply === undefined) return;
      socket.send(reply, rinfo.port, rinfo.address, () => undefined);
      onContact({ protocol: 'udp', port: socket.address().port, from: rinfo.address });
    });
    socket.bind({ port: p.port, address: host, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', () => undefined); // ICMP errors for replies to probers that left
      resolve({ binding: { ...p, port: socket.address().port }, socket });
    });
  });
}

/** Binds every port on `host` (0.0.0.0: all addresses); a port that cannot be bound is reported, not fatal. */
export async function startListener(ports: readonly ListenPort[], opts: { host?: string; onContact?: (c: Contact) => void } = {}): Promise<Listener> {
  const host = opts.host ?? '0.0.0.0';
  const onContact = opts.onContact ?? (() => undefined);
  const bound = await Promise.all(ports.map((p) => (p.protocol === 'tcp' ? listenTcp(p, host, onContact) : listenUdp(p, host, onContact))));
  let closed: Promise<void> | undefined;
  return {
    bindings: bound.map((b) => b.binding),
    close: () =>
      (closed ??= Promise.all(
        bound.map((b) =>
          'tcp' in b && b.tcp
            ? new Promise<void>((r) => {
                b.tcp!.server.close(() => r());
                for (const s of b.tcp!.sockets) s.destroy();
              })
            : 'socket' in b && b.socket
              ? new Promise<void>((r) => b.socket!.close(() => r()))
              : Promise.resolve(),
        ),
      ).then(() => undefined)),
  };
}

// ── probes ──────────────────────────────────────────────────────────────────────────────────────

/** After the connect, how long to wait for the listener's greeting (a real service sends none). */
const GREETING_WAIT_MS = 1000;

/** Connects to host:port; passes once the connection is accepted, noting the listener's greeting. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<PortOutcome> {
  return new Promise((resolve) => {
    const start = performance.now();
    let connectedMs: number | undefined;
    let received = '';
    let settled = false;
    const sock = connect({ host, port });
    const finish = (o: PortOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(greetingTimer);
      sock.destroy();
      resolve(o);
    };
    const accepted = (seenAs?: string): PortOutcome => ({ ok: true, ms: connectedMs ?? since(start), byListener: seenAs !== undefined, ...(seenAs ? { seenAs } : {}) });
    let greetingTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => finish(connectedMs !== undefined ? accepted() : { ok: false, failure: 'timeout', ms: since(start) }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connectedMs = since(start);
      greetingTimer = setTimeout(() => finish(accepted()), GREETING_WAIT_MS);
    });
    sock.on('data', (d: string) => {
      received += d;
      const g = parseTcpGreeting(received);
      if (g) finish(accepted(g.seenAs));
    });
    sock.on('end', () => finish(accepted(parseTcpGreeting(received)?.seenAs)));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish(connectedMs !== undefined ? accepted(parseTcpGreeting(received)?.seenAs) : { ok: false, failure: failureOf(e), ms: since(start), message: e.code ?? e.message }),
    );
  });
}

/**
 * Sends `attempts` requests spread over `timeoutMs` from a connected socket (so that ICMP errors come
 * back as ECONNREFUSED/EHOSTUNREACH) and passes on the first reply carrying this probe's token.
 */
export function probeUdp(host: string, port: number, timeoutMs: number, attempts = 3): Promise<PortOutcome> {
  return new Promise((resolve) => {
    const token = randomBytes(8).toString('hex');
    const request = udpRequest(token);
    const start = performance.now();
    const socket = createSocket('udp4');
    const timers: NodeJS.Timeout[] = [];
    let sent = 0;
    let settled = false;
    const finish = (o: PortOutcome) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      socket.close();
      resolve(o);
    };
    const send = () => {
      if (settled) return;
      sent++;
      socket.send(request, (e) => e && finish({ ok: false, failure: failureOf(e as NodeJS.ErrnoException), ms: since(start), message: (e as NodeJS.ErrnoException).code ?? e.message, attempts: sent }));
    };
    socket.on('message', (msg) => {
      const r = parseUdpReply(msg.toString('utf8'), token);
      if (r) finish({ ok: true, ms: since(start), seenAs: r.seenAs, byListener: true });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, failure: failureOf(e), ms: since(start), message: e.code ?? e.message, attempts: sent }));
    socket.connect(port, host, () => {
      for (let i = 0; i < attempts; i++) timers.push(setTimeout(send, Math.floor((i * timeoutMs) / attempts)));
      timers.push(setTimeout(() => finish({ ok: false, failure: 'timeout', ms: since(start), attempts: sent }), timeoutMs));
    });
  });
}

// ── path MTU ────────────────────────────────────────────────────────────────────────────────────

export interface Egress {
  /** The interface toward the peer and its MTU (what the CNI derives the pod MTU from). */
  dev?: string;
  mtu?: number;
  /** This node's source address toward the peer. */
  src?: string;
  /** The path MTU the kernel has cached for the peer (learned from ICMP; expires after 10 minutes). */
  cachedMtu?: number;
}

/** The route this node takes to the peer: `ip -j route get`, then the interface's MTU. */
export async function egressTo(exec: Exec, peer: string): Promise<Egress> {
  const route = await exec(['ip', '-j', 'route', 'get', peer]).catch(() => undefined);
  if (!route || route.exitCode !== 0) return {};
  const { dev, ...rest } = parseRouteGet(route.stdout);
  if (!dev) return rest;
  const link = await exec(['ip', '-j', 'link', 'show', 'dev', dev]).catch(() => undefined);
  const mtu = link && link.exitCode === 0 ? parseLinkMtu(link.stdout) : undefined;
  return { dev, ...(mtu !== undefined ? { mtu } : {}), ...rest };
}

/**
 * One packet of `mtu` bytes with DF set (`ping -M do`). A failure without a reported MTU is tried once
 * more, so that a single lost packet does not pass for a size limit.
 */
export async function pingDf(exec: Exec, peer: string, mtu: number, waitS: number): Promise<PingAttempt> {
  const argv: [string, ...string[]] = ['ping', '-n', '-c', '1', '-W', String(waitS), '-M', 'do', '-s', String(pingPayload(mtu)), peer];
  let last: PingAttempt = { ok: false };
  for (let i = 0; i < 2; i++) {
    const r = await exec(argv, { timeoutMs: Math.ceil(waitS * 1000) + 5000 });
    if (r.exitCode === 0) return { ok: true };
    const hint = parsePingHint(`${r.stdout}\n${r.stderr}`);
    last = hint !== undefined ? { ok: false, hint } : { ok: false };
    if (hint !== undefined) return last;
    if (r.exitCode !== 1) throw new Error(`ping: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.exitCode}`}`);
  }
  return last;
}

/** The largest packet that reaches the peer, up to `hostMtu`; `unavailable` when ping cannot run. */
export async function measurePathMtu(exec: Exec, peer: string, egress: { hostMtu: number; cachedMtu?: number }, waitS: number): Promise<MtuOutcome> {
  try {
    return await searchPathMtu((mtu) => pingDf(exec, peer, mtu, waitS), egress.hostMtu, egress.cachedMtu);
  } catch (e) {
    if (e instanceof CommandNotFoundError) return { kind: 'unavailable', reason: 'ping is not installed' };
    return { kind: 'unavailable', reason: (e as Error).message };
  }
}
