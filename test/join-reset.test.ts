/**
 * `knit join` and `knit reset` end to end: the built CLI, fake kubeadm/kubectl on PATH, a temporary
 * host root; reset runs inside a network namespace so that it deletes real CNI devices.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { knit, KNIT_BIN } from './helpers/knit.js';
import { validateKubeadmConfig } from './helpers/kubeadm-schema.mjs';
import { describeLab, Lab, probeLabSupport } from './lab/netns.js';

const TOKEN = 'abcdef.0123456789abcdef';
const HASH = `sha256:${'c0ffee'.repeat(10)}c0ff`;
const KEY = 'd'.repeat(64);

let host: FakeHost;
let root: string;
let env: Record<string, string>;
beforeEach(async () => void ({ root, env } = host = await createFakeHost()));
afterEach(() => host.cleanup());
const calls = () => host.calls();

const joinArgs = ['join', '--skip', 'preflight', '--endpoint', '203.0.113.10:6443', '--token', TOKEN, '--ca-cert-hash', HASH, '--advertise-address', '172.17.0.20', '--node-name', 'worker-1', '--k8s-version', '1.32.4'];

describe('knit join', () => {
  it('writes a filled JoinConfiguration (0600) and runs kubeadm join once', async () => {
    const r = await knit(joinArgs, { env });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['kubeadm join --config /etc/knit/kubeadm-join-config.yaml']);
    const config = await readFile(join(root, 'etc/knit/kubeadm-join-config.yaml'), 'utf8');
    expect(validateKubeadmConfig(config, { kubeadmVersion: '1.32' }).errors).toEqual([]);
    expect(config).toContain(`token: ${TOKEN}`);
    expect(config).toMatch(/name: node-ip\n\s+value: 172\.17\.0\.20/);
    expect((await stat(join(root, 'etc/knit/kubeadm-join-config.yaml'))).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain('worker-1 joined the cluster at 203.0.113.10:6443');

    const again = await knit(joinArgs, { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already done');
    expect(await calls()).toHaveLength(1);
  });

  it('a control-plane join carries the certificate key, which is never printed', async () => {
    const r = await knit([...joinArgs, '--control-plane', '--certificate-key', KEY, '--dry-run'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('knit join: control-plane worker-1');
    expect(`${r.stdout}${r.stderr}`).not.toContain(KEY);
    expect(`${r.stdout}${r.stderr}`).not.toContain('0123456789abcdef');
    expect(await calls()).toEqual([]);
  });

  it.each([
    [['--token', 'nope'], '--token: required, in the form abcdef.0123456789abcdef'],
    [['--ca-cert-hash', 'md5:1'], '--ca-cert-hash: required, in the form sha256:<64 hex digits>'],
    [['--control-plane'], '--certificate-key: required with --control-plane'],
  ])('bad input %j exits 2 before anything runs', async (extra, message) => {
    const args = [...joinArgs];
    for (let i = 0; i < extra.length; i += 2) {
      const at = args.indexOf(extra[i]!);
      if (at >= 0 && extra[i + 1] !== undefined) args[at + 1] = extra[i + 1]!;
      else args.push(...extra.slice(i, i + 2));
    }
    const r = await knit(args, { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${message}`);
    expect(await calls()).toEqual([]);
  });

  it('a failing kubeadm join exits 1 with the tail and resumes on a re-run', async () => {
    const failed = await knit(joinArgs, { env: { ...env, FAKE_KUBEADM_FAIL_PHASE: 'kubelet-start' } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('error execution phase kubelet-start');
    expect((await knit(joinArgs, { env })).code).toBe(0);
  });
});

describe('knit reset', () => {
  it('refuses without --yes when nobody is at a terminal', async () => {
    const r = await knit(['reset'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --yes:');
    expect(await calls()).toEqual([]);
  });

  it('--dry-run lists everything it would remove', async () => {
    const r = await knit(['reset', '--dry-run', '--kubeconfig'], { env });
    expect(r.code).toBe(0);
    for (const line of ['run kubeadm reset -f', 'remove /etc/cni/net.d', 'remove /run/flannel', 'remove /var/lib/calico', 'run ip link delete flannel.1', 'run ip link delete flannel-wg', 'run ip link delete vxlan.calico', 'remove /root/.kube/config'])
      expect(r.stdout).toContain(line);
  });
});

const support = await probeLabSupport(['nft']); // knit's cross-VPC address map
describeLab('knit reset on a node (network namespace)', support, () => {
  const lab = new Lab();
  let ns: string;
  beforeAll(async () => {
    ns = await lab.addNamespace('node');
    await lab.run(ns, ['ip', 'link', 'add', 'cni0', 'type', 'bridge']);
    await lab.run(ns, ['ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'nolearning']);
  });
  afterAll(() => lab.destroy());

  it('runs kubeadm reset and removes CNI config and devices, keeping the kubeconfig unless asked', async () => {
    for (const [path, text] of [['etc/cni/net.d/10-flannel.conflist', '{}'], ['etc/kubernetes/admin.conf', 'x'], ['root/.kube/config', 'x'], ['etc/knit/kubeadm-config.yaml', 'x']] as const) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    const before = await lab.run(ns, ['ip', '-o', 'link', 'show']);
    expect(before).toContain('cni0');
    const knitInNs = (...args: string[]) => lab.run(ns, [...host.envArgs(), 'node', KNIT_BIN, ...args]);
    const pristine = await lab.run(ns, ['nft', 'list', 'ruleset']);
    await knitInNs('crossvpc', 'apply', '-f', fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url)));
    expect(await lab.run(ns, ['nft', 'list', 'tables'])).toContain('table ip knit');
    const r = await knitInNs('reset', '--yes').then(
      (out) => ({ code: 0, out }),
      (e: Error) => ({ code: 1, out: e.message }),
    );
    expect(r.code, r.out).toBe(0);
    const after = await lab.run(ns, ['ip', '-o', 'link', 'show']);
    expect(after).not.toMatch(/cni0|flannel\.1/);
    await expect(stat(join(root, 'etc/cni/net.d'))).rejects.toThrow();
    await expect(stat(join(root, 'etc/kubernetes'))).rejects.toThrow();
    await expect(stat(join(root, 'etc/knit/kubeadm-config.yaml'))).rejects.toThrow();
    expect(await readFile(join(root, 'root/.kube/config'), 'utf8')).toBe('x');
    expect(await calls()).toContain('kubeadm reset -f');
    expect(await calls()).toContain('systemctl disable knit-crossvpc.service');
    expect(await lab.run(ns, ['nft', 'list', 'ruleset'])).toBe(pristine);
    await expect(stat(join(root, 'etc/systemd/system/knit-crossvpc.service'))).rejects.toThrow();
    await expect(stat(join(root, 'etc/knit/crossvpc.nft'))).rejects.toThrow();
  });
});
