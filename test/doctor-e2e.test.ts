/**
 * `knit doctor` through the real binary: a temporary host root (no other CNI's config, no NAT chains
 * readable as a non-iptables host), and the replay kubectl answering from recorded cluster states.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { knit } from './helpers/knit.js';

const replay = fileURLToPath(new URL('./fakes/replay', import.meta.url));
const spec = fileURLToPath(new URL('./fixtures/verify/cross-vpc-flannel.yaml', import.meta.url));
let dir: string;
let kubeconfig: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knit-doctor-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, 'apiVersion: v1\nkind: Config\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const doctor = (scenario: string, extra: string[] = []) =>
  knit(['-o', 'json', 'doctor', '-f', spec, '--node-name', 'master-1', '--kubeconfig', kubeconfig, ...extra], {
    env: { PATH: `${replay}:${process.env.PATH}`, FAKE_KUBE_SCENARIO: scenario, FAKE_LOG: join(dir, 'calls.jsonl'), KNIT_HOST_ROOT: dir },
  });
type Report = { findings: { id: string; status: string; message: string; fix?: string }[]; failed: number };
const statusOf = (r: Report) => Object.fromEntries(r.findings.filter((f) => !f.id.startsWith('crossvpc/') && !f.id.startsWith('host/')).map((f) => [f.id, f.status]));

describe('knit doctor against recorded clusters', () => {
  it('healthy: the cluster checks pass (flannel pods Running, no node tunnels through its EIP)', async () => {
    const r = await doctor('healthy');
    const report = JSON.parse(r.stdout) as Report;
    expect(statusOf(report)).toEqual({ 'cni/pods': 'ok', 'flannel/public-ip-overwrite': 'ok' });
  });

  it('one node NotReady: its crash-looping flannel pod is named, and doctor exits 1', async () => {
    const r = await doctor('node-notready');
    expect(r.code).toBe(1);
    const cni = (JSON.parse(r.stdout) as Report).findings.find((f) => f.id === 'cni/pods')!;
    expect(cni.status).toBe('fail');
    expect(cni.message).toMatch(/not Running: kube-flannel-ds-\w+ on worker-1/);
  });
});
