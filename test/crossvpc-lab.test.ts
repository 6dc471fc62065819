/**
 * `knit crossvpc` against real iptables in network namespaces: two hosts in different VPCs behind
 * 1:1 NAT (test/lab/nat-topology.ts). The scenario runs in order: before → apply → traffic → re-apply
 * → boot → remove.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run as crossvpc, type CrossVpcAction, type CrossVpcOptions } from '../src/commands/crossvpc.js';
import type { CommandContext } from '../src/commands/context.js';
import { CROSSVPC } from '../src/defaults.js';
import { HostFiles } from '../src/host/files.js';
import { removeKnitChains } from '../src/host/iptables.js';
import { createOutput } from '../src/ui/output.js';
import { HOSTS, POD, VXLAN, buildNatLab, type HostName, type NatLab } from './lab/nat-topology.js';
import { Lab, describeLab, probeLabSupport } from './lab/netns.js';
import { clientAddress, startTcpServer, tryConnect, type TcpServer } from './lab/tcp.js';

const KUBELET_PORT = 10250;
const POD_PORT = 8080;
const HOST_NAMES = Object.keys(HOSTS) as HostName[];
/** Steps that need systemd or a cluster, neither of which a namespace has. */
const SKIP = ['crossvpc/boot', 'crossvpc/annotate'];

const SPEC = `
kubernetes: { controlPlaneEndpoint: ${HOSTS.master.publicIP} }
network: { plugin: flannel }
nodes:
  - { name: master, role: control-plane, privateIP: ${HOSTS.master.privateIP}, publicIP: ${HOSTS.master.publicIP}, vpc: vpc-a }
  - { name: worker, role: worker, privateIP: ${HOSTS.worker.privateIP}, publicIP: ${HOSTS.worker.publicIP}, vpc: vpc-b }
`;

const support = await probeLabSupport();

describeLab('knit crossvpc across a 1:1 NAT (network namespaces)', support, () => {
  const lab = new Lab();
  let net: NatLab;
  let dir: string;
  let kubelet: TcpServer;
  let kubeletClients = 0;
  const pristine = {} as Record<HostName, string>;
  const applied = {} as Record<HostName, string>;

  const files = (host: HostName) => new HostFiles(join(dir, host));

  /** Runs the command the CLI runs, on `host`, with -o json; returns its exit code and JSON document. */
  async function knit(host: HostName, action: CrossVpcAction, opts: CrossVpcOptions & { dryRun?: boolean } = {}) {
    let stdout = '';
    const sink = new Writable({ write: (chunk, _enc, cb) => ((stdout += String(chunk)), cb()) });
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const ctx: CommandContext = {
      out: createOutput({ format: 'json', stdout: sink, stderr: quiet, env: {} }),
      exec: lab.exec(net.hosts[host]),
      files: files(host),
      env: {},
      hostname: host,
      interactive: false,
    };
    const code = await crossvpc(action, { config: join(dir, 'cluster.yaml'), nodeName: host, ...opts }, ctx);
    return { code, json: JSON.parse(stdout) as Record<string, unknown> };
  }

  /** iptables-save without its timestamps and packet counters. */
  const snapshot = async (host: HostName) =>
    (await lab.run(net.hosts[host], ['iptables-save']))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
      .join('\n');

  /** Connects to the worker's "kubelet" and returns the source address the worker saw. */
  async function reachKubelet(fromNs: string): Promise<string | undefined> {
    const r = await tryConnect(lab, fromNs, HOSTS.worker.privateIP, KUBELET_PORT);
    expect(r).toEqual({ ok: true, reply: 'knit' });
    return clientAddress(kubelet, ++kubeletClients);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-crossvpc-lab-'));
    await writeFile(join(dir, 'cluster.yaml'), SPEC);
    net = await buildNatLab(lab);
    kubelet = await startTcpServer(lab, net.hosts.worker, '0.0.0.0', KUBELET_PORT);
    for (const h of HOST_NAMES) pristine[h] = await snapshot(h);
  });

  afterAll(async () => {
    await lab.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('before apply: the master reaches the worker only at its public IP, and is seen as its public IP', async () => {
    expect(await tryConnect(lab, net.hosts.master, HOSTS.worker.privateIP, KUBELET_PORT, { timeoutMs: 1000 })).toEqual({ ok: false, error: 'timeout' });
    expect(await tryConnect(lab, net.hosts.master, HOSTS.worker.publicIP, KUBELET_PORT)).toEqual({ ok: true, reply: 'knit' });
    expect(await clientAddress(kubelet, ++kubeletClients)).toBe(HOSTS.master.publicIP);
  });

  it('--dry-run and status change nothing; status reports the missing rules', async () => {
    const dry = await knit('master', 'apply', { dryRun: true, skip: SKIP });
    expect(dry.code).toBe(0);
    expect((dry.json.steps as { id: string }[]).map((s) => s.id)).toEqual(['crossvpc/nat', 'crossvpc/persist', 'crossvpc/boot', 'crossvpc/annotate']);
    const status = await knit('master', 'status');
    expect(status.code).toBe(1);
    expect(status.json).toMatchObject({ inSync: false, rulesFile: 'missing', unexpected: [] });
    expect(await snapshot('master')).toBe(pristine.master);
  });

  it('after apply on both hosts: the master reaches the private IP and the worker sees its private IP', async () => {
    for (const h of HOST_NAMES) {
      const r = await knit(h, 'apply', { skip: SKIP });
      expect(r.code).toBe(0);
      expect((r.json.steps as { id: string; status: string }[]).map((s) => [s.id, s.status])).toEqual([
        ['crossvpc/nat', 'applied'],
        ['crossvpc/persist', 'applied'],
        ['crossvpc/boot', 'skipped'],
        ['crossvpc/annotate', 'skipped'],
      ]);
      applied[h] = await snapshot(h);
      expect(await knit(h, 'status')).toMatchObject({ code: 0, json: { inSync: true, rulesFile: 'current' } });
    }
    expect(await reachKubelet(net.hosts.master)).toBe(HOSTS.master.privateIP);
  });

  it('a pod behind the master bridge reaches the worker private IP (PREROUTING path)', async () => {
    expect(await reachKubelet(net.pod)).toBe(HOSTS.master.privateIP);
  });

  it('flannel-style VXLAN (VTEP on the private IP, FDB to the peer public IP) carries pod traffic across the NAT', async () => {
    const podServer = await startTcpServer(lab, net.hosts.worker, HOSTS.worker.vtepIP, POD_PORT);
    expect(await tryConnect(lab, net.pod, HOSTS.worker.vtepIP, POD_PORT)).toEqual({ ok: true, reply: 'knit' });
    expect(await clientAddress(podServer, 1)).toBe(POD.ip); // pod to pod: no masquerade
    const fdb = await lab.run(net.hosts.master, ['bridge', 'fdb', 'show', 'dev', VXLAN.device]);
    expect(fdb).toContain(`dst ${HOSTS.worker.publicIP}`);
  });

  it('re-apply changes nothing: every step unchanged, iptables-save identical', async () => {
    for (const h of HOST_NAMES) {
      const r = await knit(h, 'apply', { skip: SKIP });
      expect((r.json.steps as { status: string }[]).map((s) => s.status)).toEqual(['unchanged', 'unchanged', 'skipped', 'skipped']);
      expect(await snapshot(h)).toBe(applied[h]);
    }
  });

  it('boot: the saved rules file and unit restore the rules on a table without them, and a restart adds no copies', async () => {
    const ns = net.hosts.master;
    expect(await removeKnitChains(lab.exec(ns))).toBe(true);
    expect(await removeKnitChains(lab.exec(ns))).toBe(false);
    expect(await snapshot('master')).toBe(pristine.master);
    const unit = (await files('master').read(CROSSVPC.unitPath))!;
    const execLines = [...unit.matchAll(/^Exec(?:StartPre|Start)=(-?)(.*)$/gm)].map(([, tolerant, cmd]) => ({
      tolerant: tolerant === '-',
      argv: cmd!.split(' ').map((a) => (a === CROSSVPC.rulesFile ? files('master').path(a) : a)),
    }));
    expect(execLines).toHaveLength(4);
    for (const start of [1, 2]) {
      for (const { tolerant, argv } of execLines) {
        const r = await lab.exec(ns)(argv as [string, ...string[]]);
        if (!tolerant) expect(r.exitCode, `start ${start}: ${argv.join(' ')}: ${r.stderr}`).toBe(0);
      }
      expect(await snapshot('master')).toBe(applied.master);
    }
    expect(await reachKubelet(ns)).toBe(HOSTS.master.privateIP);
  });

  it('remove leaves no trace: iptables-save as before apply, files gone; a second remove changes nothing', async () => {
    for (const h of HOST_NAMES) {
      const removed = await knit(h, 'remove', { skip: ['crossvpc/boot'] });
      expect((removed.json.steps as { status: string }[]).map((s) => s.status)).toEqual(['applied', 'skipped', 'applied']);
      expect(await snapshot(h)).toBe(pristine[h]);
      for (const p of [CROSSVPC.rulesFile, CROSSVPC.unitPath]) expect(await files(h).exists(p)).toBe(false);
      const again = await knit(h, 'remove', { skip: ['crossvpc/boot'] });
      expect((again.json.steps as { status: string }[]).map((s) => s.status)).toEqual(['unchanged', 'skipped', 'unchanged']);
      expect((await knit(h, 'status')).code).toBe(1);
    }
    expect(await tryConnect(lab, net.hosts.master, HOSTS.worker.privateIP, KUBELET_PORT, { timeoutMs: 1000 })).toEqual({ ok: false, error: 'timeout' });
  });
});
