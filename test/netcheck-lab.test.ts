/**
 * `knit netcheck` for real, in network namespaces: the master and the worker in different "VPCs"
 * behind the "internet" namespace's 1:1 NAT (test/lab/nat-topology.ts). The listener runs on the
 * worker, the prober on the master against the worker's EIP; both are the built knit, run inside the
 * namespaces. The "cloud" (the internet namespace) then drops UDP 8472, a firewalld-style
 * REJECT goes up on the worker, and a link on the path gets a smaller MTU.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { NetcheckReport } from '../src/netcheck/report.js';
import { HOSTS, VXLAN, buildNatLab, type NatLab } from './lab/nat-topology.js';
import { KNIT_BIN } from './helpers/knit.js';
import { runNetcheck, startNetcheckListener, type RunningListener } from './lab/netcheck.js';
import { Lab, describeLab, probeLabSupport } from './lab/netns.js';

// the NAT topology (bridge, sysctl, iptables-restore), knit netcheck's path MTU probe (ping), the sockets check (ss)
const support = await probeLabSupport(['bridge', 'sysctl', 'iptables-restore', 'ping', 'ss']);

const SPEC = `
kubernetes: { controlPlaneEndpoint: ${HOSTS.master.publicIP} }
network: { plugin: flannel }
nodes:
  - { name: master, role: control-plane, privateIP: ${HOSTS.master.privateIP}, publicIP: ${HOSTS.master.publicIP}, vpc: vpc-a }
  - { name: worker, role: control-plane, privateIP: ${HOSTS.worker.privateIP}, publicIP: ${HOSTS.worker.publicIP}, vpc: vpc-b }
`;

type Report = NetcheckReport & { mode: 'probe'; mtu: Record<string, unknown> };

describeLab('knit netcheck across a 1:1 NAT (network namespaces)', support, () => {
  const lab = new Lab();
  let net: NatLab;
  let dir: string;
  let bundle: string;
  let listener: RunningListener;
  /** Undo steps of the current test (the lab is shared by the tests, in order). */
  const undo: (() => Promise<unknown>)[] = [];

  const check = (r: Report, id: string) => r.checks.find((c) => c.id === id)!;

  /** netcheck --peer from the master to the worker's EIP, -o json. */
  async function probe(args: string[] = []) {
    const r = await runNetcheck(net.hosts.master, bundle, ['-o', 'json', 'netcheck', '--peer', HOSTS.worker.publicIP, '--timeout', '1000', ...args]);
    expect(r.stdout, r.stderr).not.toBe('');
    return { ...r, report: JSON.parse(r.stdout) as Report };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-netcheck-lab-'));
    await writeFile(join(dir, 'cluster.yaml'), SPEC);
    bundle = KNIT_BIN;
    net = await buildNatLab(lab);
  });

  afterEach(async () => {
    for (const step of undo.splice(0).reverse()) await step();
  });

  afterAll(async () => {
    await lab.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the listener reports a UDP port that a running VXLAN device (flannel.1) already owns', async () => {
    const r = await runNetcheck(net.hosts.worker, bundle, ['-o', 'json', 'netcheck', '--listen', '--duration', '1']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { listening: { port: number }[]; notListening: { port: number; protocol: string; error: string }[] };
    expect(doc.listening.map((l) => l.port).sort()).toEqual([10250, 6443]);
    expect(doc.notListening).toMatchObject([{ port: Number(VXLAN.port), protocol: 'udp', error: 'EADDRINUSE' }]);
    expect(r.stderr).toMatch(/not listening on 8472\/udp \(flannel VXLAN\): in use.*flannel\.1/);
  });

  it('open ports pass: 6443/tcp, 10250/tcp and 8472/udp through the NAT, and the path MTU fits VXLAN', async () => {
    // before install: flannel is not running on the worker yet, so the listener can take its port
    await lab.run(net.hosts.worker, ['ip', 'link', 'del', VXLAN.device]);
    listener = await startNetcheckListener(lab, net.hosts.worker, bundle, ['-o', 'json']);
    const { code, report, ms } = await probe();
    expect(code).toBe(0);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['6443/tcp', 'pass'],
      ['10250/tcp', 'pass'],
      ['8472/udp', 'pass'],
      ['path-mtu', 'pass'],
    ]);
    // the worker sees the master as its EIP: the 1:1 NAT is on the way
    expect(report).toMatchObject({ seenAs: HOSTS.master.publicIP, localAddress: HOSTS.master.privateIP, nat: true });
    expect(check(report, 'path-mtu').detail).toBe("path MTU ≥ 1500 (this node's interface MTU), needs 1500 (pod MTU 1450 + 50 bytes of VXLAN)");
    console.info(`[netcheck lab] all checks passing: ${report.elapsedMs} ms inside knit, ${ms} ms for the process`);
  });

  it('prints the table in text mode', async () => {
    const r = await runNetcheck(net.hosts.master, bundle, ['netcheck', '--peer', HOSTS.worker.publicIP, '-f', join(dir, 'cluster.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Netcheck from this node to worker (${HOSTS.worker.publicIP}), a control-plane; CNI flannel (vxlan)`);
    expect(r.stdout).toMatch(/^ {2}PASS {2}8472\/udp {3}flannel VXLAN {3}answered in \d+ ms, seen as 203\.0\.113\.10$/m);
    expect(r.stdout).toContain(`${HOSTS.worker.publicIP} sees this node as ${HOSTS.master.publicIP} (it sends from ${HOSTS.master.privateIP}: NAT on the way`);
    expect(r.stdout).toMatch(/4 checks in \d+\.\d s: 4 passed, 0 failed\n$/);
  });

  it('UDP 8472 dropped by the "cloud" fails with the security-group hint; TCP still passes', async () => {
    await lab.run(net.inet, ['iptables', '-A', 'FORWARD', '-p', 'udp', '--dport', VXLAN.port, '-j', 'DROP']);
    undo.push(() => lab.run(net.inet, ['iptables', '-D', 'FORWARD', '-p', 'udp', '--dport', VXLAN.port, '-j', 'DROP']));
    const { code, report, stderr, ms } = await probe();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`error: netcheck: 1 check failed toward ${HOSTS.worker.publicIP}: 8472/udp`);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['6443/tcp', 'pass'],
      ['10250/tcp', 'pass'],
      ['8472/udp', 'fail'],
      ['path-mtu', 'pass'],
    ]);
    const udp = check(report, '8472/udp');
    expect(udp.detail).toBe('no answer to 3 datagrams within 1000 ms');
    expect(udp.cause).toMatch(/^dropped on the way: TCP reaches 203\.0\.113\.20 but udp\/8472 does not — a security group that allows only TCP/);
    expect(udp.fix).toBe(
      `allow inbound udp/8472 from ${HOSTS.master.publicIP} (the address ${HOSTS.worker.publicIP} sees this node as) in the security group of ${HOSTS.worker.publicIP} (TCP rules do not cover UDP), and outbound on this node's if it restricts egress`,
    );
    console.info(`[netcheck lab] UDP dropped: ${ms} ms for the process (timeout 1000 ms)`);
  });

  it('TCP 6443 dropped by the "cloud": a timeout with the security-group hint, the other ports pass', async () => {
    const rule = ['FORWARD', '-p', 'tcp', '--dport', '6443', '-j', 'DROP'];
    await lab.run(net.inet, ['iptables', '-A', ...rule]);
    undo.push(() => lab.run(net.inet, ['iptables', '-D', ...rule]));
    const { code, report } = await probe(['-f', join(dir, 'cluster.yaml')]);
    expect(code).toBe(1);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['6443/tcp', 'fail'],
      ['10250/tcp', 'pass'],
      ['8472/udp', 'pass'],
      ['path-mtu', 'pass'],
    ]);
    expect(check(report, '6443/tcp')).toMatchObject({
      detail: 'no answer within 1000 ms',
      cause: `dropped on the way: the security group of worker (${HOSTS.worker.publicIP}) (inbound tcp/6443) or a firewall in between (a DROP rule, a NAT that does not forward it)`,
      fix: expect.stringMatching(/^allow inbound tcp\/6443 from 203\.0\.113\.10 \(the address 203\.0\.113\.20 sees this node as\) in the security group of worker/),
    });
  });

  it('a firewalld-style REJECT on the worker names firewalld and the firewall-cmd fix', async () => {
    const rule = ['INPUT', '-p', 'tcp', '--dport', '10250', '-j', 'REJECT', '--reject-with', 'icmp-host-prohibited'];
    await lab.run(net.hosts.worker, ['iptables', '-A', ...rule]);
    undo.push(() => lab.run(net.hosts.worker, ['iptables', '-D', ...rule]));
    const { code, report } = await probe();
    expect(code).toBe(1);
    expect(check(report, '10250/tcp')).toMatchObject({
      status: 'fail',
      detail: 'rejected: ICMP host unreachable',
      cause: expect.stringMatching(/^rejected with an ICMP "host prohibited": firewalld's default/),
      fix: `on ${HOSTS.worker.publicIP}: \`firewall-cmd --permanent --add-port=10250/tcp && firewall-cmd --reload\` (or stop firewalld)`,
    });
    expect(check(report, '6443/tcp').status).toBe('pass');
  });

  it('a port nobody listens on is refused, with the listener hint', async () => {
    const { code, report } = await probe(['--port', '7000/tcp', '7000/udp']);
    expect(code).toBe(1);
    expect(check(report, '7000/tcp')).toMatchObject({ status: 'fail', detail: 'connection refused', fix: expect.stringMatching(/^run `knit netcheck --listen` on 203\.0\.113\.20/) });
    expect(check(report, '7000/udp')).toMatchObject({ status: 'fail', detail: 'port unreachable (ICMP)' });
  });

  it('a link with MTU 1400 on the path fails the MTU check with the value to set', async () => {
    // the internet's link toward the worker: the master's 1500-byte packets no longer fit
    await lab.run(net.inet, ['ip', 'link', 'set', 'to-worker', 'mtu', '1400']);
    undo.push(async () => {
      await lab.run(net.inet, ['ip', 'link', 'set', 'to-worker', 'mtu', '1500']);
      await lab.run(net.hosts.master, ['ip', 'route', 'flush', 'cache']);
    });
    const { code, report, stderr, ms } = await probe();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`error: netcheck: 1 check failed toward ${HOSTS.worker.publicIP}: path-mtu`);
    const mtu = check(report, 'path-mtu');
    expect(mtu).toMatchObject({ status: 'fail', detail: 'path MTU 1400 < 1500 needed (pod MTU 1450 + 50 bytes of VXLAN)' });
    expect(mtu.cause).toMatch(/carries at most 1400 bytes/);
    expect(mtu.fix).toMatch(/^set network\.flannel\.mtu: 1350 in the spec \(path MTU 1400 − 50\)/);
    expect(report.mtu).toMatchObject({ kind: 'measured', pathMtu: 1400, icmpSeen: true, required: 1500, hostMtu: 1500 });
    console.info(`[netcheck lab] MTU 1400 on the path: found in ${report.mtu.pings as number} pings, ${ms} ms for the process`);

    // the same path with the spec's MTU set as the fix says passes
    await writeFile(join(dir, 'fixed.yaml'), SPEC.replace('network: { plugin: flannel }', 'network: { plugin: flannel, flannel: { mtu: 1350 } }'));
    const fixed = await probe(['-f', join(dir, 'fixed.yaml')]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(check(fixed.report, 'path-mtu').detail).toBe('path MTU 1400, needs 1400 (pod MTU 1350 + 50 bytes of VXLAN)');
  });

  it('a PMTU black hole (ICMP "fragmentation needed" filtered) is found by bisection and named as such', async () => {
    const mtuRule = ['OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP'];
    await lab.run(net.inet, ['ip', 'link', 'set', 'to-worker', 'mtu', '1400']);
    await lab.run(net.inet, ['iptables', '-A', ...mtuRule]);
    undo.push(async () => {
      await lab.run(net.inet, ['iptables', '-D', ...mtuRule]);
      await lab.run(net.inet, ['ip', 'link', 'set', 'to-worker', 'mtu', '1500']);
    });
    const { code, report, ms } = await probe(['--timeout', '300']);
    expect(code).toBe(1);
    expect(report.mtu).toMatchObject({ kind: 'measured', pathMtu: 1400, icmpSeen: false });
    expect(check(report, 'path-mtu').cause).toMatch(/^packets over 1400 bytes vanish without an ICMP "fragmentation needed" \(a PMTU black hole\)/);
    console.info(`[netcheck lab] PMTU black hole: ${report.mtu.pings as number} pings, ${ms} ms for the process (ping wait 0.3 s)`);
  });

  it('a peer that answers no ping: the MTU is a warning, not a failure', async () => {
    const echo = ['FORWARD', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'DROP'];
    await lab.run(net.inet, ['iptables', '-I', ...echo]);
    undo.push(() => lab.run(net.inet, ['iptables', '-D', ...echo]));
    const { code, report } = await probe(['--timeout', '300']);
    expect(code).toBe(0);
    expect(check(report, 'path-mtu')).toMatchObject({ status: 'warn', detail: `not measured: ${HOSTS.worker.publicIP} answers no ping` });
    expect(report.summary).toEqual({ pass: 3, fail: 0, warn: 1, skip: 0 });
  });

  it('Ctrl-C stops the listener: exit 0, sockets closed, one JSON document with every probe it answered', async () => {
    const { code, stdout } = await listener.interrupt();
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { mode: string; stopped: string; contacts: { from: string; port: number; protocol: string }[] };
    expect(doc).toMatchObject({ mode: 'listen', stopped: 'signal' });
    expect(new Set(doc.contacts.map((c) => c.from))).toEqual(new Set([HOSTS.master.publicIP]));
    expect(doc.contacts.some((c) => c.port === 8472 && c.protocol === 'udp')).toBe(true);
    const ss = await lab.run(net.hosts.worker, ['ss', '-Htuln']);
    expect(ss).not.toMatch(/:(6443|10250|8472)\b/);
  });
});
