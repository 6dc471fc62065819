/**
 * netcheck's pure half (which probes, the MTU the CNI needs, the path MTU search, the wire format,
 * causes and fixes, the report) and its socket adapter on loopback. The namespace lab
 * (netcheck-lab.test.ts) runs the whole command across a NAT.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/command-support/context.js';
import { run, type NetcheckOptions } from '../src/commands/netcheck.js';
import { UsageError } from '../src/errors.js';
import { probeTcp, probeUdp, startListener, type Listener } from '../src/host/netcheck.js';
import { explainMtu, explainPort, type ExplainContext } from '../src/netcheck/explain.js';
import { parseLinkMtu, parsePingHint, parseRouteGet, pingPayload, searchPathMtu } from '../src/netcheck/mtu.js';
import { cniLabel, listenPorts, mtuRequirement, parseExtraPorts, planProbes } from '../src/netcheck/plan.js';
import { buildReport, formatReport, netcheckError } from '../src/netcheck/report.js';
import type { MtuRequirement, PingAttempt, PortOutcome, PortProbe } from '../src/netcheck/types.js';
import { parseTcpGreeting, parseUdpReply, tcpGreeting, udpReply, udpRequest } from '../src/netcheck/wire.js';
import { loadSpec, type SpecFlags } from '../src/spec/load.js';
import type { Spec } from '../src/spec/schema.js';
import { createOutput } from '../src/ui/output.js';
import { fakeExec } from './helpers/fake-exec.js';

const specOf = (flags: SpecFlags = {}, file?: string): Spec =>
  loadSpec({ flags: { advertiseAddress: '192.0.2.1', nodeName: 'n1', ...flags }, hostname: 'h', ...(file ? { file: { name: 'c.yaml', text: file } } : {}) }).spec;
const ids = (probes: PortProbe[]) => probes.map((p) => p.id);

describe('planProbes', () => {
  it('flannel VXLAN: the apiserver on a control plane, the kubelet, UDP 8472', () => {
    const probes = planProbes(specOf(), 'control-plane');
    expect(probes).toEqual([
      { id: '6443/tcp', protocol: 'tcp', port: 6443, what: 'kube-apiserver', origin: 'kubernetes', required: true },
      { id: '10250/tcp', protocol: 'tcp', port: 10250, what: 'kubelet', origin: 'kubernetes', required: true },
      { id: '8472/udp', protocol: 'udp', port: 8472, what: 'flannel VXLAN', origin: 'cni', required: true },
    ]);
    expect(ids(planProbes(specOf(), 'worker'))).toEqual(['10250/tcp', '8472/udp']);
  });

  it('follows the CNI and its mode', () => {
    expect(ids(planProbes(specOf({ cni: 'calico' }), 'worker'))).toEqual(['10250/tcp', '179/tcp', 'ip/4']);
    expect(ids(planProbes(specOf({ cni: 'calico', calicoMode: 'bgp' }), 'worker'))).toEqual(['10250/tcp', '179/tcp']);
    expect(ids(planProbes(specOf({ cni: 'calico', calicoMode: 'vxlan' }), 'worker'))).toEqual(['10250/tcp', '4789/udp']);
    expect(ids(planProbes(specOf({ cni: 'terway' }), 'worker'))).toEqual(['10250/tcp']);
    const file = (flannel: string) => `network: { plugin: flannel, flannel: ${flannel} }\n`;
    expect(ids(planProbes(specOf({}, file('{ backend: host-gw }')), 'worker'))).toEqual(['10250/tcp']);
    expect(ids(planProbes(specOf({}, file('{ backend: wireguard }')), 'worker'))).toEqual(['10250/tcp', '51820/udp']);
    expect(ids(planProbes(specOf({}, file('{ port: 8473 }')), 'worker'))).toEqual(['10250/tcp', '8473/udp']);
  });

  it('a hybrid cluster checks both plugins; extra ports come last, duplicates once', () => {
    const hybrid = specOf({}, 'network: { plugin: terway, hybrid: { externalPlugin: flannel } }\n');
    expect(cniLabel(hybrid)).toBe('terway + flannel (vxlan)');
    const extra = parseExtraPorts(['8472/udp', '9000', '53/UDP']);
    expect(ids(planProbes(hybrid, 'worker', extra))).toEqual(['10250/tcp', '8472/udp', '9000/tcp', '53/udp']);
  });

  it('the listener binds every tcp/udp probe, never an IP protocol', () => {
    expect(listenPorts(planProbes(specOf({ cni: 'calico' }), 'control-plane'))).toEqual([
      { protocol: 'tcp', port: 6443, what: 'kube-apiserver' },
      { protocol: 'tcp', port: 10250, what: 'kubelet' },
      { protocol: 'tcp', port: 179, what: 'calico BGP' },
    ]);
  });

  it('--port rejects what is not PORT[/tcp|/udp]', () => {
    for (const bad of ['0', '65536', '80/sctp', 'http', '80/tcp/x', ''])
      expect(() => parseExtraPorts([bad]), bad).toThrow(UsageError);
    expect(() => parseExtraPorts(['65536'])).toThrow('--port: "65536" is not PORT[/tcp|/udp] (1-65535)');
  });
});

describe('mtuRequirement', () => {
  it('is the pod MTU knit will settle on plus the encapsulation', () => {
    expect(mtuRequirement(specOf(), 1500)).toEqual({
      plugin: 'flannel', podMtu: 1450, overhead: 50, encapsulation: 'VXLAN', required: 1500, hostMtu: 1500, field: 'network.flannel.mtu', explicit: false,
    });
    expect(mtuRequirement(specOf({ cni: 'calico' }), 9000)).toMatchObject({ podMtu: 8980, overhead: 20, encapsulation: 'IPIP', required: 9000 });
    expect(mtuRequirement(specOf({ cni: 'calico', calicoMode: 'bgp' }), 1500)).toMatchObject({ podMtu: 1500, overhead: 0, required: 1500 });
    expect(mtuRequirement(specOf({}, 'network: { plugin: flannel, flannel: { mtu: 1350 } }\n'), 1500)).toMatchObject({ podMtu: 1350, required: 1400, explicit: true });
    const terway = mtuRequirement(specOf({ cni: 'terway' }), 1500);
    expect(terway).toMatchObject({ plugin: 'terway', podMtu: 1500, overhead: 0, required: 1500 });
    expect(terway.field).toBeUndefined();
  });

  it("is this node's own: derived from its interface (jumbo frames, a VPN link), unless the spec fixes it; canal is VXLAN", () => {
    expect(mtuRequirement(specOf(), 9000)).toMatchObject({ podMtu: 8950, required: 9000, explicit: false });
    expect(mtuRequirement(specOf(), 1400)).toMatchObject({ podMtu: 1350, required: 1400, explicit: false });
    expect(mtuRequirement(specOf({}, 'network: { plugin: canal }\n'), 1500)).toEqual({
      plugin: 'canal', podMtu: 1450, overhead: 50, encapsulation: 'VXLAN', required: 1500, hostMtu: 1500, field: 'network.canal.mtu', explicit: false,
    });
    expect(mtuRequirement(specOf({}, 'network: { plugin: canal, canal: { mtu: 1400 } }\n'), 9000)).toMatchObject({ podMtu: 1400, required: 1450, explicit: true });
  });

  it("flannel WireGuard: UDP 51820 is probed (and listened on), and the path must carry the pod MTU + flannel v0.28's 80 bytes", () => {
    const wg = specOf({}, 'network: { plugin: flannel, flannel: { backend: wireguard } }\n');
    expect(cniLabel(wg)).toBe('flannel (wireguard)');
    expect(planProbes(wg, 'control-plane').at(-1)).toEqual({ id: '51820/udp', protocol: 'udp', port: 51820, what: 'flannel WireGuard', origin: 'cni', required: true });
    expect(listenPorts(planProbes(wg, 'worker'))).toEqual([{ protocol: 'tcp', port: 10250, what: 'kubelet' }, { protocol: 'udp', port: 51820, what: 'flannel WireGuard' }]);
    const need = mtuRequirement(wg, 1500);
    expect(need).toEqual({
      plugin: 'flannel', podMtu: 1420, overhead: 80, encapsulation: 'WireGuard', required: 1500, hostMtu: 1500, field: 'network.flannel.mtu', explicit: false,
    });
    const narrow = explainMtu(need, { kind: 'measured', pathMtu: 1400, capped: false, icmpSeen: true, pings: 3 }, CTX);
    expect(narrow).toMatchObject({ what: 'flannel WireGuard', detail: 'path MTU 1400 < 1500 needed (pod MTU 1420 + 80 bytes of WireGuard)' });
    expect(narrow.fix).toMatch(/^set network\.flannel\.mtu: 1320 in the spec \(path MTU 1400 − 80\)/);
  });

  it('a hybrid cluster needs the larger of its plugins', () => {
    const hybrid = specOf({}, 'network: { plugin: terway, hybrid: { externalPlugin: flannel }, flannel: { mtu: 1200 } }\n');
    expect(mtuRequirement(hybrid, 1500)).toMatchObject({ plugin: 'terway', required: 1500 });
  });
});

/** A path whose links carry `limit` bytes; `icmp` false filters "fragmentation needed" (a black hole). */
function fakePath(limit: number, opts: { icmp?: boolean; echo?: boolean; kernelCache?: boolean } = {}) {
  const sent: number[] = [];
  let cached: number | undefined;
  const ping = async (mtu: number): Promise<PingAttempt> => {
    sent.push(mtu);
    if (opts.echo === false) return { ok: false };
    if (cached !== undefined && mtu > cached) return { ok: false, hint: cached };
    if (mtu <= limit) return { ok: true };
    if (opts.icmp === false) return { ok: false };
    if (opts.kernelCache !== false) cached = limit;
    return { ok: false, hint: limit };
  };
  return { ping, sent };
}

describe('searchPathMtu', () => {
  it('one ping when the full interface MTU gets through', async () => {
    const path = fakePath(9000);
    expect(await searchPathMtu(path.ping, 1500)).toEqual({ kind: 'measured', pathMtu: 1500, capped: true, icmpSeen: false, pings: 1 });
    expect(path.sent).toEqual([1500]);
  });

  it('believes the MTU a router names, then confirms it', async () => {
    const path = fakePath(1400);
    expect(await searchPathMtu(path.ping, 1500)).toEqual({ kind: 'measured', pathMtu: 1400, capped: false, icmpSeen: true, pings: 3 });
    expect(path.sent).toEqual([1500, 576, 1400]);
  });

  it('starts from the path MTU the kernel cached (a larger ping would only fail locally)', async () => {
    const path = fakePath(1400);
    expect(await searchPathMtu(path.ping, 1500, 1400)).toEqual({ kind: 'measured', pathMtu: 1400, capped: false, icmpSeen: true, pings: 1 });
    // a cache above the real limit: the router's answer takes over
    const lower = fakePath(1300);
    expect(await searchPathMtu(lower.ping, 1500, 1450)).toMatchObject({ pathMtu: 1300, icmpSeen: true });
  });

  it('bisects to the exact size in a PMTU black hole', async () => {
    for (const limit of [577, 1000, 1399, 1400, 1499]) {
      const path = fakePath(limit, { icmp: false });
      const r = await searchPathMtu(path.ping, 1500);
      expect(r, String(limit)).toMatchObject({ kind: 'measured', pathMtu: limit, icmpSeen: false });
      expect(path.sent.length).toBeLessThanOrEqual(12);
    }
  });

  it('two routers with smaller MTUs one after the other', async () => {
    let hop = 0;
    const ping = async (mtu: number): Promise<PingAttempt> => {
      if (mtu <= 1300) return { ok: true };
      if (mtu > 1400) return { ok: false, hint: 1400 };
      hop++;
      return { ok: false, hint: 1300 };
    };
    expect(await searchPathMtu(ping, 1500)).toMatchObject({ pathMtu: 1300, icmpSeen: true, pings: 4 });
    expect(hop).toBe(1);
  });

  it('no answer to any ping: not measurable', async () => {
    expect(await searchPathMtu(fakePath(1500, { echo: false }).ping, 1500)).toEqual({ kind: 'no-echo', pings: 2 });
  });

  it('loopback: the largest IPv4 packet, not 65536', async () => {
    const path = fakePath(70000);
    expect(await searchPathMtu(path.ping, 65536)).toMatchObject({ pathMtu: 65535, capped: true });
    expect(pingPayload(65535)).toBe(65507);
  });
});

describe('ping and ip output', () => {
  it('reads the MTU a failed ping names', () => {
    expect(parsePingHint('From 172.16.1.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)')).toBe(1400);
    expect(parsePingHint('ping: local error: message too long, mtu=1400')).toBe(1400);
    expect(parsePingHint('1 packets transmitted, 0 received, 100% packet loss')).toBeUndefined();
  });

  it('reads the route, the source address and a cached path MTU', () => {
    const cached = '[{"dst":"198.51.100.2","gateway":"192.0.2.1","dev":"eth0","prefsrc":"192.0.2.2","flags":[],"uid":0,"cache":[],"expires":588,"metrics":[{"mtu":1400}]}]';
    expect(parseRouteGet(cached)).toEqual({ dev: 'eth0', src: '192.0.2.2', cachedMtu: 1400 });
    expect(parseRouteGet('[{"dst":"198.51.100.2","dev":"eth0","prefsrc":"192.0.2.2","flags":[],"uid":0,"cache":[]}]')).toEqual({ dev: 'eth0', src: '192.0.2.2' });
    expect(parseRouteGet('not json')).toEqual({});
    expect(parseLinkMtu('[{"ifindex":2,"ifname":"eth0","mtu":9000}]')).toBe(9000);
    expect(parseLinkMtu('[]')).toBeUndefined();
  });
});

describe('wire format', () => {
  it('TCP: a greeting line naming the address the listener saw', () => {
    expect(parseTcpGreeting(tcpGreeting('203.0.113.10'))).toEqual({ seenAs: '203.0.113.10' });
    expect(parseTcpGreeting('knit-netcheck/1 203.0.113.10')).toBeUndefined(); // line not complete yet
    expect(parseTcpGreeting('SSH-2.0-OpenSSH_9.6\r\n')).toBeUndefined();
  });

  it('UDP: the reply echoes the token; other datagrams get no answer, stale replies do not count', () => {
    const reply = udpReply(udpRequest('0123456789abcdef'), '203.0.113.10')!;
    expect(parseUdpReply(reply, '0123456789abcdef')).toEqual({ seenAs: '203.0.113.10' });
    expect(parseUdpReply(reply, 'fedcba9876543210')).toBeUndefined();
    expect(udpReply('\x08\x00\x00\x00vxlan', '203.0.113.10')).toBeUndefined();
    expect(udpReply('knit-netcheck/1 ? not-hex', '203.0.113.10')).toBeUndefined();
  });
});

const CTX: ExplainContext = { peer: '203.0.113.20', seenAs: '203.0.113.10', anyAnswer: true, tcpAnswer: true, timeoutMs: 2000 };
const probe = (id: string): PortProbe => {
  const [port, protocol] = id.split('/') as [string, 'tcp' | 'udp'];
  return { id, protocol, port: Number(port), what: protocol === 'udp' ? 'flannel VXLAN' : 'kubelet', origin: protocol === 'udp' ? 'cni' : 'kubernetes', required: true };
};
const failed = (failure: Extract<PortOutcome, { ok: false }>['failure'], extra: object = {}): PortOutcome => ({ ok: false, failure, ms: 2000, ...extra });

describe('explainPort', () => {
  it('a pass says how fast and as whom the peer saw this node', () => {
    expect(explainPort(probe('10250/tcp'), { ok: true, ms: 3, seenAs: '203.0.113.10', byListener: true }, CTX)).toMatchObject({
      status: 'pass', detail: 'connected in 3 ms, seen as 203.0.113.10', seenAs: '203.0.113.10',
    });
    expect(explainPort(probe('10250/tcp'), { ok: true, ms: 3, byListener: false }, CTX).detail).toBe('connected in 3 ms (by a running service, not knit netcheck --listen)');
  });

  it('a TCP timeout: the security group, with the source address to allow', () => {
    const r = explainPort(probe('10250/tcp'), failed('timeout'), CTX);
    expect(r).toMatchObject({ status: 'fail', detail: 'no answer within 2000 ms' });
    expect(r.cause).toBe('dropped on the way: the security group of 203.0.113.20 (inbound tcp/10250) or a firewall in between (a DROP rule, a NAT that does not forward it)');
    expect(r.fix).toBe(
      "allow inbound tcp/10250 from 203.0.113.10 (the address 203.0.113.20 sees this node as) in the security group of 203.0.113.20, and outbound on this node's if it restricts egress",
    );
  });

  it('nothing answered at all, at a private address: suggests the public IP', () => {
    const r = explainPort(probe('6443/tcp'), failed('timeout'), { peer: '172.16.2.20', peerName: 'worker', anyAnswer: false, tcpAnswer: false, timeoutMs: 2000 });
    expect(r.cause).toMatch(/nothing else answered either: also check that 172\.16\.2\.20 is up and is the right address; 172\.16\.2\.20 is a private address, which another VPC cannot route to: probe the peer's public IP \(EIP\)$/);
    expect(r.fix).toMatch(/^allow inbound tcp\/6443 from this node's public IP in the security group of worker \(172\.16\.2\.20\)/);
  });

  it('UDP dropped while TCP works: a TCP-only security group', () => {
    const r = explainPort(probe('8472/udp'), failed('timeout', { attempts: 3 }), CTX);
    expect(r.detail).toBe('no answer to 3 datagrams within 2000 ms');
    expect(r.cause).toMatch(/^dropped on the way: TCP reaches 203\.0\.113\.20 but udp\/8472 does not — a security group that allows only TCP/);
    expect(r.fix).toContain('(TCP rules do not cover UDP)');
  });

  it('refused: nothing listens; host-unreachable: firewalld; no route', () => {
    expect(explainPort(probe('10250/tcp'), failed('refused'), CTX)).toMatchObject({
      detail: 'connection refused',
      fix: 'run `knit netcheck --listen` on 203.0.113.20 with the same --cni/-f (before install), or start kubelet there (after install)',
    });
    expect(explainPort(probe('8472/udp'), failed('refused'), CTX)).toMatchObject({
      detail: 'port unreachable (ICMP)',
      cause: '203.0.113.20 answered, but nothing listens on udp/8472 (once the CNI runs, its flannel VXLAN device owns the port and does not answer probes)',
    });
    expect(explainPort(parseExtraPorts(['7000/udp'])[0]!, failed('refused'), CTX).cause).toBe('203.0.113.20 answered, but nothing listens on udp/7000');
    expect(explainPort(probe('8472/udp'), failed('host-unreachable'), CTX)).toMatchObject({
      detail: 'rejected: ICMP host unreachable',
      fix: 'on 203.0.113.20: `firewall-cmd --permanent --add-port=8472/udp && firewall-cmd --reload` (or stop firewalld)',
    });
    expect(explainPort(probe('10250/tcp'), failed('net-unreachable'), CTX).cause).toBe('this node has no route to 203.0.113.20');
    expect(explainPort(probe('10250/tcp'), failed('error', { message: 'EMFILE' }), CTX).detail).toBe('probe failed: EMFILE');
  });

  it('IP protocol 4 is not probed, and says what the security group needs', () => {
    const r = explainPort({ id: 'ip/4', protocol: 'ip', port: 4, what: 'calico IPIP', origin: 'cni', required: true }, undefined, CTX);
    expect(r).toMatchObject({ status: 'skip', detail: 'IP protocol 4 cannot be probed from user space (no raw IPIP probe)' });
    expect(r.fix).toMatch(/allows IP protocol 4 from 203\.0\.113\.10 .*"all protocols" rule .*--calico-mode vxlan/);
  });
});

const FLANNEL: MtuRequirement = { plugin: 'flannel', podMtu: 1450, overhead: 50, encapsulation: 'VXLAN', required: 1500, hostMtu: 1500, field: 'network.flannel.mtu', explicit: false };

describe('explainMtu', () => {
  it('passes when the path carries pod MTU + encapsulation', () => {
    expect(explainMtu(FLANNEL, { kind: 'measured', pathMtu: 1500, capped: true, icmpSeen: false, pings: 1 }, CTX)).toMatchObject({
      id: 'path-mtu', status: 'pass', what: 'flannel VXLAN', detail: "path MTU ≥ 1500 (this node's interface MTU), needs 1500 (pod MTU 1450 + 50 bytes of VXLAN)",
    });
  });

  it('a smaller path MTU fails with the MTU to set', () => {
    const r = explainMtu(FLANNEL, { kind: 'measured', pathMtu: 1400, capped: false, icmpSeen: true, pings: 3 }, CTX);
    expect(r).toMatchObject({ status: 'fail', detail: 'path MTU 1400 < 1500 needed (pod MTU 1450 + 50 bytes of VXLAN)' });
    expect(r.fix).toBe('set network.flannel.mtu: 1350 in the spec (path MTU 1400 − 50), or raise the MTU of the link between this node and 203.0.113.20');
    const terway: MtuRequirement = { plugin: 'terway', podMtu: 1500, overhead: 0, required: 1500, hostMtu: 1500, explicit: false };
    const t = explainMtu(terway, { kind: 'measured', pathMtu: 1400, capped: false, icmpSeen: false, pings: 12 }, CTX);
    expect(t.detail).toBe('path MTU 1400 < 1500 needed (pod MTU 1500, no encapsulation)');
    expect(t.cause).toMatch(/PMTU black hole/);
    expect(t.fix).toMatch(/^terway pods use the interface MTU: lower this node's interface MTU to 1400/);
  });

  it('loopback (MTU 65536): the largest IPv4 packet getting through passes', () => {
    const lo: MtuRequirement = { ...FLANNEL, podMtu: 65486, required: 65536, hostMtu: 65536 };
    expect(explainMtu(lo, { kind: 'measured', pathMtu: 65535, capped: true, icmpSeen: false, pings: 1 }, CTX)).toMatchObject({
      status: 'pass', detail: 'path MTU ≥ 65535 (the largest IPv4 packet), needs 65536 (pod MTU 65486 + 50 bytes of VXLAN)',
    });
  });

  it('an explicit MTU larger than the interface allows fails without measuring', () => {
    const r = explainMtu({ ...FLANNEL, podMtu: 1480, required: 1530, explicit: true }, { kind: 'unavailable', reason: 'x' }, CTX);
    expect(r).toMatchObject({ status: 'fail', detail: "1530 needed (pod MTU 1480 + 50 bytes of VXLAN) > this node's interface MTU 1500" });
    expect(r.fix).toBe('set network.flannel.mtu to 1450 or less (or leave it out: knit derives it from the interface)');
  });

  it('cannot measure: a warning', () => {
    expect(explainMtu(FLANNEL, { kind: 'no-echo', pings: 4 }, CTX)).toMatchObject({ status: 'warn', detail: 'not measured: 203.0.113.20 answers no ping' });
    expect(explainMtu(FLANNEL, { kind: 'unavailable', reason: 'ping is not installed' }, CTX)).toMatchObject({ status: 'warn', fix: 'install ping (iputils-ping) and run again' });
  });
});

describe('report', () => {
  const probes = planProbes(specOf(), 'control-plane');
  const input = (udp: PortOutcome) => ({
    peer: '203.0.113.20',
    peerName: 'worker',
    peerRole: 'control-plane' as const,
    cni: 'flannel (vxlan)',
    timeoutMs: 2000,
    localAddress: '172.16.1.10',
    probes,
    outcomes: new Map<string, PortOutcome>([
      ['6443/tcp', { ok: true, ms: 2, seenAs: '203.0.113.10', byListener: true }],
      ['10250/tcp', { ok: true, ms: 1, seenAs: '203.0.113.10', byListener: true }],
      ['8472/udp', udp],
    ]),
    mtu: { requirement: FLANNEL, outcome: { kind: 'measured' as const, pathMtu: 1500, capped: true, icmpSeen: false, pings: 1 } },
    elapsedMs: 2104,
  });

  it('summarizes, notices the NAT, and fails with one line naming the checks', () => {
    const r = buildReport(input({ ok: false, failure: 'timeout', ms: 2000, attempts: 3 }));
    expect(r).toMatchObject({ seenAs: '203.0.113.10', nat: true, summary: { pass: 3, fail: 1, warn: 0, skip: 0 } });
    const err = netcheckError(r)!;
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe('netcheck: 1 check failed toward 203.0.113.20: 8472/udp');
    expect(formatReport(r, false)).toBe(
      [
        'Netcheck from this node to worker (203.0.113.20), a control-plane; CNI flannel (vxlan)',
        '',
        '  PASS  6443/tcp   kube-apiserver  connected in 2 ms, seen as 203.0.113.10',
        '  PASS  10250/tcp  kubelet         connected in 1 ms, seen as 203.0.113.10',
        '  FAIL  8472/udp   flannel VXLAN   no answer to 3 datagrams within 2000 ms',
        '        cause: dropped on the way: TCP reaches 203.0.113.20 but udp/8472 does not — a security group that allows only TCP (the usual case), or a firewall that drops UDP',
        "        fix:   allow inbound udp/8472 from 203.0.113.10 (the address 203.0.113.20 sees this node as) in the security group of worker (203.0.113.20) (TCP rules do not cover UDP), and outbound on this node's if it restricts egress",
        "  PASS  path-mtu   flannel VXLAN   path MTU ≥ 1500 (this node's interface MTU), needs 1500 (pod MTU 1450 + 50 bytes of VXLAN)",
        '',
        '203.0.113.20 sees this node as 203.0.113.10 (it sends from 172.16.1.10: NAT on the way, e.g. an EIP); allow that address in its security group',
        '4 checks in 2.1 s: 3 passed, 1 failed',
        '',
      ].join('\n'),
    );
  });

  it('all passing: no error', () => {
    expect(netcheckError(buildReport(input({ ok: true, ms: 4, seenAs: '203.0.113.10', byListener: true })))).toBeUndefined();
  });
});

describe('the socket adapter on loopback', () => {
  let listener: Listener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it('answers TCP and UDP probes, naming the prober; closed ports are refused', async () => {
    const contacts: string[] = [];
    listener = await startListener(
      [{ protocol: 'tcp', port: 0, what: 't' }, { protocol: 'udp', port: 0, what: 'u' }],
      { host: '127.0.0.1', onContact: (c) => contacts.push(`${c.protocol} ${c.from}`) },
    );
    const [tcp, udp] = listener.bindings;
    expect(tcp!.error).toBeUndefined();
    expect(udp!.error).toBeUndefined();
    expect(await probeTcp('127.0.0.1', tcp!.port, 1000)).toMatchObject({ ok: true, seenAs: '127.0.0.1', byListener: true });
    expect(await probeUdp('127.0.0.1', udp!.port, 1000)).toMatchObject({ ok: true, seenAs: '127.0.0.1', byListener: true });
    expect(contacts.sort()).toEqual(['tcp 127.0.0.1', 'udp 127.0.0.1']);

    const ports = { tcp: tcp!.port, udp: udp!.port };
    await listener.close();
    listener = undefined;
    expect(await probeTcp('127.0.0.1', ports.tcp, 1000)).toMatchObject({ ok: false, failure: 'refused', message: 'ECONNREFUSED' });
    expect(await probeUdp('127.0.0.1', ports.udp, 1000)).toMatchObject({ ok: false, failure: 'refused', attempts: 1 });
  });

  it('a port in use is reported, the others still listen', async () => {
    listener = await startListener([{ protocol: 'udp', port: 0, what: 'u' }], { host: '127.0.0.1' });
    const taken = listener.bindings[0]!.port;
    const second = await startListener([{ protocol: 'udp', port: taken, what: 'again' }, { protocol: 'tcp', port: 0, what: 't' }], { host: '127.0.0.1' });
    try {
      expect(second.bindings[0]).toMatchObject({ port: taken, error: 'EADDRINUSE' });
      expect(second.bindings[1]!.error).toBeUndefined();
    } finally {
      await second.close();
    }
  });

  it('a TCP service that is not knit still passes (it accepted the connection)', async () => {
    const { createServer } = await import('node:net');
    const server = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      expect(await probeTcp('127.0.0.1', port, 2000)).toMatchObject({ ok: true, byListener: false });
    } finally {
      server.close();
    }
  });
});

describe('run: flags', () => {
  const ctx = (): CommandContext => {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    return { out: createOutput({ format: 'text', stdout: sink, stderr: sink, env: {} }), exec: fakeExec([]).exec, files: undefined as never, env: {}, hostname: 'h', interactive: false };
  };
  it.each<[NetcheckOptions, string]>([
    [{}, 'netcheck needs --listen (run it on the peer first) or --peer IP'],
    [{ listen: true, peer: '203.0.113.20' }, '--listen and --peer: choose one'],
    [{ peer: 'worker-1' }, '--peer: "worker-1" is not an IPv4 address'],
    [{ peer: '203.0.113.20', timeout: '2s' }, '--timeout: "2s" is not a whole number of milliseconds (100-60000)'],
    [{ peer: '203.0.113.20', port: ['80/sctp'] }, '--port: "80/sctp" is not PORT[/tcp|/udp]'],
    [{ peer: '203.0.113.20', role: 'worker' }, "--role is the listener's role; with --peer use --peer-role"],
    [{ peer: '203.0.113.20', peerRole: 'master' }, '--peer-role: unknown role "master"'],
    [{ peer: '203.0.113.20', duration: '10' }, '--duration goes with --listen'],
    [{ listen: true, timeout: '100' }, '--timeout goes with --peer'],
    [{ listen: true, duration: '0' }, '--duration: "0" is not a whole number of seconds'],
    [{ peer: '203.0.113.20', cni: 'cilium' }, 'network.plugin (--cni): unknown CNI "cilium"'],
  ])('%j → %s', async (opts, message) => {
    const err = await run(opts, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });
});
