/**
 * `knit netcheck`: before install, can two nodes reach each other on what Kubernetes and the CNI need?
 * `--listen` on the peer answers on those ports; `--peer IP` on this node probes them (TCP connect,
 * UDP request/reply), measures the path MTU against the MTU the CNI will use, and reports each check
 * with its likely cause and fix. Exit 1 when a check fails.
 */
import { performance } from 'node:perf_hooks';
import { CNI } from '../defaults.js';
import { UsageError } from '../errors.js';
import { egressTo, measurePathMtu, probeTcp, probeUdp, startListener, type Binding, type Contact } from '../host/netcheck.js';
import { cniLabel, listenPorts, mtuRequirement, parseExtraPorts, planProbes } from '../netcheck/plan.js';
import { buildReport, formatReport, netcheckError } from '../netcheck/report.js';
import type { PortOutcome, PortProbe, Role } from '../netcheck/types.js';
import { isIPv4 } from '../spec/net.js';
import type { Spec } from '../spec/schema.js';
import type { CommandContext, SignalSource } from '../command-support/context.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';

export interface NetcheckOptions extends SpecOptions {
  /** Answer probes on this node's ports until Ctrl-C (or --duration). */
  listen?: boolean;
  /** Probe this address (the peer's public IP across VPCs). */
  peer?: string;
  /** The peer's role (which ports it must answer on); default: its role in the spec, else control-plane. */
  peerRole?: string;
  /** Extra ports, `PORT[/tcp|/udp]`. */
  port?: string[];
  /** Milliseconds each probe waits for an answer. */
  timeout?: string | number;
  /** Seconds the listener runs (default: until Ctrl-C). */
  duration?: string | number;
}

export interface NetcheckDeps {
  signals?: SignalSource;
  /** Address the listener binds (tests: 127.0.0.1). */
  listenHost?: string;
}

export const NETCHECK_DEFAULTS = { timeoutMs: 2000, udpAttempts: 3 } as const;

const ROLES: readonly Role[] = ['control-plane', 'worker'];
/** Stand-ins for the node fields a spec requires when no file is given (RFC 5737 documentation address). */
const PLACEHOLDER_NODE = { advertiseAddress: '192.0.2.1', nodeName: 'knit-netcheck' } as const;

function positive(value: string | number | undefined, flag: string, unit: string, limits: { min: number; max: number }): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < limits.min || n > limits.max)
    throw new UsageError(`${flag}: ${JSON.stringify(String(value))} is not a whole number of ${unit} (${limits.min}-${limits.max})`);
  return n;
}

function parseRole(value: string | undefined, flag: string): Role | undefined {
  if (value === undefined) return undefined;
  if (!ROLES.includes(value as Role)) throw new UsageError(`${flag}: unknown role ${JSON.stringify(value)} (use ${ROLES.join(' or ')})`);
  return value as Role;
}

/** The spec from -f and flags; without a file, a placeholder local node (netcheck needs no addresses). */
async function netcheckSpec(opts: NetcheckOptions, ctx: CommandContext): Promise<{ spec: Spec; localNode: string; fromFile: boolean }> {
  const { role: _role, listen: _l, peer: _p, peerRole: _pr, port: _port, timeout: _t, duration: _d, ...specOpts } = opts;
  const fromFile = opts.config !== undefined;
  const sources = fromFile
    ? specOpts
    : { ...specOpts, advertiseAddress: opts.advertiseAddress ?? PLACEHOLDER_NODE.advertiseAddress, nodeName: opts.nodeName ?? PLACEHOLDER_NODE.nodeName };
  const { spec, localNode } = await specFromOptions(sources, ctx);
  return { spec, localNode, fromFile };
}

export async function run(opts: NetcheckOptions, ctx: CommandContext, deps: NetcheckDeps = {}): Promise<number> {
  if (opts.listen && opts.peer !== undefined) throw new UsageError('--listen and --peer: choose one (--listen on the peer, --peer on the node that probes it)');
  if (!opts.listen && opts.peer === undefined)
    throw new UsageError('netcheck needs --listen (run it on the peer first) or --peer IP (the peer\'s public IP across VPCs)');
  const extra = parseExtraPorts(opts.port);
  const role = parseRole(opts.role, '--role');
  const peerRole = parseRole(opts.peerRole, '--peer-role');
  if (opts.listen) {
    if (opts.peerRole !== undefined) throw new UsageError('--peer-role goes with --peer; the listener\'s own role is --role');
    if (opts.timeout !== undefined) throw new UsageError('--timeout goes with --peer');
    const durationS = positive(opts.duration, '--duration', 'seconds', { min: 1, max: 7 * 24 * 3600 });
    const { spec, localNode } = await netcheckSpec(opts, ctx);
    const own = role ?? spec.nodes.find((n) => n.name === localNode)?.role ?? 'control-plane';
    return listen(ctx, spec, own, extra, durationS, deps);
  }
  if (opts.duration !== undefined) throw new UsageError('--duration goes with --listen');
  if (opts.role !== undefined) throw new UsageError('--role is the listener\'s role; with --peer use --peer-role');
  const peer = opts.peer!;
  if (!isIPv4(peer)) throw new UsageError(`--peer: ${JSON.stringify(peer)} is not an IPv4 address`);
  const timeoutMs = positive(opts.timeout, '--timeout', 'milliseconds', { min: 100, max: 60_000 }) ?? NETCHECK_DEFAULTS.timeoutMs;
  const { spec } = await netcheckSpec(opts, ctx);
  const known = spec.nodes.find((n) => n.publicIP === peer || n.privateIP === peer);
  return probe(ctx, spec, { peer, peerName: known?.name, peerRole: peerRole ?? known?.role ?? 'control-plane', extra, timeoutMs });
}

// ── --peer ──────────────────────────────────────────────────────────────────────────────────────

interface ProbeTarget {
  peer: string;
  peerName: string | undefined;
  peerRole: Role;
  extra: PortProbe[];
  timeoutMs: number;
}

async function probe(ctx: CommandContext, spec: Spec, t: ProbeTarget): Promise<number> {
  const started = performance.now();
  const probes = planProbes(spec, t.peerRole, t.extra);
  const probePort = (p: PortProbe): Promise<PortOutcome> | undefined =>
    p.protocol === 'tcp' ? probeTcp(t.peer, p.port, t.timeoutMs) : p.protocol === 'udp' ? probeUdp(t.peer, p.port, t.timeoutMs, NETCHECK_DEFAULTS.udpAttempts) : undefined;
  const egress = await egressTo(ctx.exec, t.peer);
  const hostMtu = egress.mtu ?? CNI.offlineHostMtu;
  if (egress.mtu === undefined) ctx.out.note(`could not read the MTU of the interface toward ${t.peer}; assuming ${hostMtu}`);
  const requirement = mtuRequirement(spec, hostMtu);
  const waitS = Math.max(0.2, Math.min(t.timeoutMs, 1000) / 1000);
  // the ports in parallel; the pings alongside them (one at a time: each depends on the last)
  const [outcomes, mtuOutcome] = await Promise.all([
    Promise.all(probes.map(async (p) => [p.id, await probePort(p)] as const)),
    requirement.required > hostMtu ? Promise.resolve({ kind: 'unavailable' as const, reason: 'the required MTU exceeds the interface MTU' }) : measurePathMtu(ctx.exec, t.peer, { hostMtu, ...(egress.cachedMtu !== undefined ? { cachedMtu: egress.cachedMtu } : {}) }, waitS),
  ]);
  const report = buildReport({
    peer: t.peer,
    ...(t.peerName ? { peerName: t.peerName } : {}),
    peerRole: t.peerRole,
    cni: cniLabel(spec),
    timeoutMs: t.timeoutMs,
    ...(egress.src ? { localAddress: egress.src } : {}),
    probes,
    outcomes: new Map(outcomes.flatMap(([id, o]) => (o ? [[id, o] as const] : []))),
    mtu: { requirement, outcome: mtuOutcome },
    elapsedMs: Math.round(performance.now() - started),
  });
  if (ctx.out.format === 'json') ctx.out.json({ mode: 'probe', ...report, mtu: { ...requirement, ...mtuOutcome } });
  else ctx.out.raw(formatReport(report, ctx.out.color));
  const err = netcheckError(report);
  if (err) throw err;
  return 0;
}

// ── --listen ────────────────────────────────────────────────────────────────────────────────────

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'in use: something already listens there (for a UDP data path port, the CNI\'s own device, e.g. flannel.1 or flannel-wg — run netcheck before installing the CNI, or stop it)',
  EACCES: 'permission denied: ports below 1024 need root',
  EADDRNOTAVAIL: 'the address is not on this host',
};
const bindError = (b: Binding): string => BIND_ERRORS[b.error ?? ''] ?? b.error ?? 'unknown error';

async function listen(ctx: CommandContext, spec: Spec, role: Role, extra: PortProbe[], durationS: number | undefined, deps: NetcheckDeps): Promise<number> {
  const ports = listenPorts(planProbes(spec, role, extra));
  const contacts: (Contact & { at: string })[] = [];
  // progress goes to stdout as text, to stderr beside -o json (stdout then holds only the document)
  const say = (line: string) => (ctx.out.format === 'text' ? ctx.out.line(line) : ctx.out.note(line));
  const listener = await startListener(ports, {
    ...(deps.listenHost ? { host: deps.listenHost } : {}),
    onContact: (c) => {
      contacts.push({ ...c, at: new Date().toISOString() });
      say(`  probe from ${c.from} on ${c.port}/${c.protocol}`);
    },
  });
  const bound = listener.bindings.filter((b) => b.error === undefined);
  const unbound = listener.bindings.filter((b) => b.error !== undefined);
  const describe = (b: Binding) => `${b.port}/${b.protocol} (${b.what})`;
  if (bound.length === 0) {
    await listener.close();
    throw new UsageError(`netcheck --listen: could not listen on any port: ${unbound.map((b) => `${describe(b)}: ${bindError(b)}`).join('; ')}`);
  }
  for (const b of unbound) ctx.out.note(`not listening on ${describe(b)}: ${bindError(b)}`);
  say(`Listening for netcheck probes as a ${role}, CNI ${cniLabel(spec)}, on ${bound.map(describe).join(', ')}`);
  say(`Run \`knit netcheck --peer <this node's public IP>\` on the other node; ${durationS ? `stopping after ${durationS} s` : 'Ctrl-C stops'}.`);

  const signals = deps.signals ?? process;
  const started = Date.now();
  let stopped: 'signal' | 'duration' = 'duration';
  await new Promise<void>((resolve) => {
    const timer = durationS !== undefined ? setTimeout(done, durationS * 1000) : undefined;
    function done() {
      if (timer) clearTimeout(timer);
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
      resolve();
    }
    function onSignal() {
      stopped = 'signal';
      done();
    }
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
  });
  await listener.close();
  say(`Stopped after ${Math.round((Date.now() - started) / 1000)} s: ${contacts.length} probe${contacts.length === 1 ? '' : 's'} answered.`);
  ctx.out.json({
    mode: 'listen',
    role,
    cni: cniLabel(spec),
    listening: bound.map(({ error: _e, ...b }) => b),
    notListening: unbound.map((b) => ({ protocol: b.protocol, port: b.port, what: b.what, error: b.error, reason: bindError(b) })),
    contacts,
    stopped,
    elapsedMs: Date.now() - started,
  });
  return 0;
}
