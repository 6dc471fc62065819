/**
 * Network sysctls checked, fixed and undone for real, inside a network namespace this file creates:
 * Exec runs every command as `ip netns exec NS …`, so `sysctl -w` changes that namespace only. The
 * host's own values are read before and after to prove it. Needs root (skipped, saying so, otherwise).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREFLIGHT_OWNER, undoFixes } from '../src/commands/preflight.js';
import { HostApplier } from '../src/host/apply.js';
import { createExec } from '../src/host/exec.js';
import { HostFiles } from '../src/host/files.js';
import { probeHost } from '../src/host/probe.js';
import { checkHost } from '../src/preflight/check.js';
import { planFixes } from '../src/preflight/fix.js';
import type { PreflightTarget } from '../src/preflight/types.js';
import { runPlan } from '../src/runner/run.js';
import { specSchema } from '../src/spec/schema.js';
import { allOf, needRoot, needTools, skipUnless } from './helpers/skip.js';

const ok = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const support = allOf(needRoot('to create a network namespace'), needTools(['ip', 'sysctl']));

const NS = `knit-pf-${randomBytes(4).toString('hex')}`;
const IP_FORWARD = 'net.ipv4.ip_forward';
const RP_ALL = 'net.ipv4.conf.all.rp_filter';
const RP_DEFAULT = 'net.ipv4.conf.default.rp_filter';
const BRIDGE = 'net.bridge.bridge-nf-call-iptables';
const KEYS = [IP_FORWARD, RP_ALL, RP_DEFAULT, BRIDGE];

const inNs = (...argv: string[]) => execFileSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
/** Current values of KEYS (absent keys left out), on the host or in the namespace. */
const read = (where: 'host' | 'ns'): Record<string, string> => {
  const argv = ['sysctl', '-e', ...KEYS];
  const out = where === 'host' ? execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }) : inNs(...argv);
  return Object.fromEntries([...out.matchAll(/^(\S+) = (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
};

/** Terway: it needs ip_forward, rp_filter off and FORWARD ACCEPT, so every network fix gets exercised. */
const spec = specSchema.parse({
  kubernetes: { controlPlaneEndpoint: '203.0.113.10' },
  network: { plugin: 'terway' },
  nodes: [{ name: 'node-1', role: 'control-plane', privateIP: '10.0.0.10' }],
});
const target: PreflightTarget = { spec, role: 'control-plane', cni: 'terway' };
/** Only these fixes run here: the others (modprobe, swapoff, setenforce) would change the host itself. */
const NETWORK_CHECKS = /^(sysctl|iptables)\//;

describe(`preflight network fixes in netns ${NS}`, skipUnless(support), () => {
  let root: string;
  let hostBefore: Record<string, string>;
  let hasBridge: boolean;
  let hasIptables: boolean;

  beforeAll(async () => {
    hostBefore = read('host');
    root = await mkdtemp(join(tmpdir(), 'knit-pf-netns-'));
    // directories every host has (HostFiles.undo removes the files it created, not their directories)
    await Promise.all(['etc/sysctl.d', 'var/lib'].map((d) => mkdir(join(root, d), { recursive: true })));
    execFileSync('ip', ['netns', 'add', NS]);
    // a fresh namespace has ip_forward=0; make rp_filter and the bridge hook wrong too
    inNs('sysctl', '-w', `${RP_ALL}=1`, `${RP_DEFAULT}=1`);
    hasBridge = BRIDGE in read('ns');
    if (hasBridge) inNs('sysctl', '-w', `${BRIDGE}=0`);
    hasIptables = ok('ip', 'netns', 'exec', NS, 'iptables', '-P', 'FORWARD', 'DROP');
  });

  afterAll(async () => {
    spawnSync('ip', ['netns', 'delete', NS], { stdio: 'ignore' });
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('fails the checks, fixes them in the namespace only, and --undo restores the original values', async () => {
    const exec = createExec({ prefix: ['ip', 'netns', 'exec', NS] });
    const files = new HostFiles(root);
    const networkResults = async () => {
      const facts = await probeHost({ files, exec, criSocket: spec.kubernetes.criSocket, hostname: 'node-1', path: '', forwardPolicy: true });
      return checkHost(facts, target).filter((r) => NETWORK_CHECKS.test(r.id));
    };
    const nsBefore = read('ns');
    expect(nsBefore).toMatchObject({ [IP_FORWARD]: '0', [RP_ALL]: '1', [RP_DEFAULT]: '1', ...(hasBridge ? { [BRIDGE]: '0' } : {}) });

    const before = await networkResults();
    const failing = before.filter((r) => r.status === 'fail').map((r) => r.id);
    expect(failing).toEqual([
      'sysctl/ip_forward',
      ...(hasBridge ? ['sysctl/bridge-nf-call-iptables'] : []),
      'sysctl/rp_filter',
      ...(hasIptables ? ['iptables/forward-policy'] : []),
    ]);

    // the bridge hook is fixed only where the namespace has it (br_netfilter loaded on this kernel)
    const steps = planFixes(before.filter((r) => hasBridge || r.id !== 'sysctl/bridge-nf-call-iptables'));
    await runPlan(steps, { applier: new HostApplier({ files, exec, owner: PREFLIGHT_OWNER }) });
    expect(read('ns')).toMatchObject({ [IP_FORWARD]: '1', [RP_ALL]: '0', [RP_DEFAULT]: '0', ...(hasBridge ? { [BRIDGE]: '1' } : {}) });
    expect(read('host')).toEqual(hostBefore);
    const after = await networkResults();
    expect(after.filter((r) => r.status !== 'pass' && (hasBridge || r.id !== 'sysctl/bridge-nf-call-iptables'))).toEqual([]);
    expect(await files.read('/etc/sysctl.d/90-knit.conf')).toContain('net.ipv4.conf.all.rp_filter = 0\n');

    // a second fix run finds nothing to change
    expect(planFixes((await networkResults()).filter((r) => hasBridge || r.id !== 'sysctl/bridge-nf-call-iptables'))).toEqual([]);

    const undone = await undoFixes(files, exec);
    expect(undone.sysctls.map((s) => s.key).sort()).toEqual([IP_FORWARD, RP_ALL, RP_DEFAULT, ...(hasBridge ? [BRIDGE] : [])].sort());
    expect(read('ns')).toEqual(nsBefore);
    expect(read('host')).toEqual(hostBefore);
    expect(await readdir(join(root, 'etc/sysctl.d'))).toEqual([]);
    expect(await readdir(join(root, 'var/lib'))).toEqual([]); // the backup index is gone with the last entry
  });
});
