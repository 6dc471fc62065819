/**
 * `knit init` end to end: the built CLI as a child process, fake kubeadm/kubectl first on PATH, and a
 * temporary host root. Asserts the argv knit passed, the files it wrote, the join command it printed,
 * and resuming after a failure injected in each kubeadm phase.
 */
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { knit, KNIT_BIN } from './helpers/knit.js';
import { describeLab, Lab, probeLabSupport } from './lab/netns.js';

const config = fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url));
const golden = fileURLToPath(new URL('./golden/cross-vpc-flannel/kubeadm-config.yaml', import.meta.url));
const JOIN_LINE = /^ {2}knit join --endpoint 203\.0\.113\.10:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --ca-cert-hash sha256:[a-f0-9]{64}$/m;

let host: FakeHost;
let root: string;
let env: Record<string, string>;
beforeEach(async () => void ({ root, env } = host = await createFakeHost()));
afterEach(() => host.cleanup());
const calls = () => host.calls();

// These tests leave the host's nftables alone (--skip crossvpc); the namespace test below runs that phase.
const init = (extra: string[] = [], more: Record<string, string> = {}) =>
  knit(['init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc', ...extra], { env: { ...env, ...more } });

describe('knit init', () => {
  it('writes the config, runs kubeadm, installs the kubeconfig, waits, and prints the join command', async () => {
    const r = await init();
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const kubectl = `kubectl --kubeconfig ${root}/etc/kubernetes/admin.conf`;
    expect(await calls()).toEqual([
      'kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs',
      `${kubectl} diff --server-side --field-manager=knit -f -`,
      `${kubectl} apply --server-side --field-manager=knit -f -`,
      `${kubectl} wait --for=condition=Ready node/master-1 --timeout=300s`,
      `${kubectl} rollout status daemonset/kube-flannel-ds -n kube-flannel --timeout=300s`,
    ]);
    // what the fake apiserver holds is the rendered cni.yaml, flannel's pod network = kubeadm's podSubnet
    const state = JSON.parse(await readFile(join(root, 'var/lib/fake-kube/state.json'), 'utf8'));
    const netConf = JSON.parse(state.objects['ConfigMap/kube-flannel/kube-flannel-cfg'].data['net-conf.json']);
    expect(netConf).toMatchObject({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 1, Port: 8472 } });
    expect(await readFile(join(root, 'etc/knit/kubeadm-config.yaml'), 'utf8')).toBe(await readFile(golden, 'utf8'));
    expect(await readFile(join(root, 'root/.kube/config'), 'utf8')).toBe(await readFile(join(root, 'etc/kubernetes/admin.conf'), 'utf8'));
    expect(r.stdout).toMatch(JOIN_LINE);
    // progress names kubeadm's phases; the certificate key is never shown unless asked
    expect(r.stderr).toContain('[6/11] Initialize the control plane (kubeadm init): done');
    const log = await readFile(join(root, 'var/log/knit/kubeadm-init.log'), 'utf8');
    // the key (64 hex digits; the CA hash has its sha256: prefix) is not printed, and masked in the log
    expect(log).toContain('--certificate-key ********');
    expect(`${r.stdout}${r.stderr}${log}`).not.toMatch(/(^|[^:a-f0-9])[a-f0-9]{64}(?![a-f0-9])/m);
    expect(r.stdout).toContain('add --show-certificate-key');
  });

  it('a failed preflight stops init with exit 3 before anything changes; --ignore-preflight-errors goes on', async () => {
    // the temporary host root is an empty machine: no os-release, no container runtime
    const r = await knit(['init', '-f', config, '--yes', '--skip', 'crossvpc'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/FAIL\s+runtime\/cri-socket/);
    expect(r.stderr).toMatch(/^error: preflight: \d+ checks? failed: .*runtime\/cri-socket/m);
    expect(r.stderr).toContain('--ignore-preflight-errors');
    expect((await calls()).filter((c) => c.startsWith('kubeadm init'))).toEqual([]);
    await expect(readFile(join(root, 'etc/knit/kubeadm-config.yaml'))).rejects.toThrow();
    const forced = await knit(['init', '-f', config, '--yes', '--skip', 'crossvpc', '--ignore-preflight-errors', 'all'], { env });
    expect(forced.code).toBe(0);
    expect(await calls()).toContain('kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs');
  });

  it('is idempotent: a second run does not re-run kubeadm init and still prints a join command', async () => {
    expect((await init()).code).toBe(0);
    const again = await init();
    expect(again.code).toBe(0);
    const second = (await calls()).slice(5);
    const kubectl = `kubectl --kubeconfig ${root}/etc/kubernetes/admin.conf`;
    expect(second).toEqual([
      `${kubectl} get --raw /readyz`,
      `${kubectl} diff --server-side --field-manager=knit -f -`,
      `${kubectl} wait --for=condition=Ready node/master-1 --timeout=300s`,
      `${kubectl} rollout status daemonset/kube-flannel-ds -n kube-flannel --timeout=300s`,
      `kubeadm token create --print-join-command --kubeconfig ${root}/etc/kubernetes/admin.conf`,
    ]);
    expect(again.stderr).toContain('(kubeadm init): already done');
    expect(again.stderr).toMatch(/Apply the CNI: .*: already done/);
    expect(again.stdout).toMatch(JOIN_LINE);
  });

  it('admin.conf without a healthy apiserver is not "initialized": kubeadm says what is in the way, knit says how to start over', async () => {
    expect((await init()).code).toBe(0);
    const r = await init([], { FAKE_APISERVER_DOWN: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/etc/kubernetes/manifests/kube-apiserver.yaml already exists');
    expect(r.stderr).toContain('to start over on this node: knit reset --yes, then knit init again');
  });

  it('prints one JSON document with -o json, the control-plane key only when asked', async () => {
    const r = await knit(['-o', 'json', 'init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc', '--show-certificate-key'], { env });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual([
      'preflight:skipped',
      'crossvpc/map:skipped', 'crossvpc/persist:skipped', 'crossvpc/boot:skipped', 'kubeadm/config:applied',
      'kubeadm/init:applied', 'kubeconfig:applied', 'crossvpc/annotate:skipped',
      'cni/apply:applied', 'wait/node-ready:unchanged', 'wait/cni-rollout:unchanged',
    ]);
    expect(doc.join.command).toMatch(/^knit join --endpoint 203\.0\.113\.10:6443 /);
    expect(doc.join.controlPlaneCommand).toMatch(/--control-plane --certificate-key [a-f0-9]{64}$/);
  });

  it("kubeadm's log is 0600 (an existing 0644 one too) and holds the join token's secret half and the certificate key masked", async () => {
    const log = join(root, 'var/log/knit/kubeadm-init.log');
    await mkdir(join(log, '..'), { recursive: true });
    await writeFile(log, 'an earlier run\n', { mode: 0o644 });
    await chmod(log, 0o644);
    const r = await knit(['-o', 'json', 'init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc', '--show-certificate-key'], { env });
    expect(r.code, r.stderr).toBe(0);
    const { join: printed } = JSON.parse(r.stdout) as { join: { token: string; controlPlaneCommand: string } };
    const [tokenId, tokenSecret] = printed.token.split('.') as [string, string];
    const certificateKey = /--certificate-key ([a-f0-9]{64})$/.exec(printed.controlPlaneCommand)![1]!;
    expect((await stat(log)).mode & 0o777).toBe(0o600);
    const text = await readFile(log, 'utf8');
    // the fake printed both several times: in the join commands, "Using token:" and "Using certificate key:"
    expect(text).toContain(`--token ${tokenId}.******** \\`);
    expect(text).toContain(`[bootstrap-token] Using token: ${tokenId}.********`);
    expect(text).toContain('[upload-certs] Using certificate key:\n********\n');
    expect(text).toContain('--discovery-token-ca-cert-hash sha256:c0ffee');
    expect(text).not.toContain(tokenSecret);
    expect(text).not.toContain(certificateKey);
    expect(text.startsWith('an earlier run\n')).toBe(true);
  });

  it('refuses a log path that is a symbolic link (exit 2, naming it) and writes nothing through it', async () => {
    const log = join(root, 'var/log/knit/kubeadm-init.log');
    const target = join(root, 'etc/shadow-standin');
    await mkdir(join(log, '..'), { recursive: true });
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, 'untouched\n');
    await symlink(target, log);
    const r = await init();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${log}: is a symbolic link`);
    expect(await readFile(target, 'utf8')).toBe('untouched\n');
  });

  it.each(['preflight', 'certs', 'etcd', 'control-plane', 'wait-control-plane', 'upload-certs', 'addons'])(
    'a failure in kubeadm phase %s shows the log tail and path, and a re-run resumes',
    async (phase) => {
      const failed = await init([], { FAKE_KUBEADM_FAIL_PHASE: phase });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(
        'error: step kubeadm/init failed: run kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs (log: /var/log/knit/kubeadm-init.log)',
      );
      expect(failed.stderr).toContain(`error execution phase ${phase}: fake failure injected`);
      expect(failed.stderr).toMatch(/run `knit init -f \S+ --yes --skip preflight crossvpc` again/);
      const resumed = await init();
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toMatch(JOIN_LINE);
    },
  );

  it('Calico BGP: CRDs first and Established, then calico and its BGP resources (the fake apiserver refuses them earlier), the route reflector annotated', async () => {
    const calico = fileURLToPath(new URL('./cases/calico-bgp-rr.yaml', import.meta.url));
    const r = await knit(['-o', 'json', 'init', '-f', calico, '--yes', '--skip', 'preflight'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).steps.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual([
      'preflight:skipped', 'kubeadm/config:applied', 'kubeadm/init:applied', 'kubeconfig:applied',
      'cni/crds:applied', 'cni/apply:applied', 'cni/annotate:applied', 'wait/node-ready:unchanged', 'wait/cni-rollout:unchanged',
    ]);
    const kubectl = (await calls()).filter((c) => c.startsWith('kubectl')).map((c) => c.replace(/^kubectl --kubeconfig \S+ /, ''));
    expect(kubectl.filter((c) => !c.startsWith('diff'))).toEqual([
      'apply --server-side --field-manager=knit -f -',
      expect.stringMatching(/^wait --for=condition=Established crd\/bgpconfigurations\.crd\.projectcalico\.org .* --timeout=60s$/),
      'apply --server-side --field-manager=knit -f -',
      'get node cp-1 -o jsonpath={.metadata.annotations}',
      'annotate --overwrite node cp-1 projectcalico.org/RouteReflectorClusterID=244.0.0.1',
      'wait --for=condition=Ready node/cp-1 --timeout=300s',
      'rollout status daemonset/calico-node -n kube-system --timeout=300s',
      'rollout status deployment/calico-kube-controllers -n kube-system --timeout=300s',
    ]);
    const state = JSON.parse(await readFile(join(root, 'var/lib/fake-kube/state.json'), 'utf8'));
    expect(state.objects['BGPConfiguration//default'].spec).toEqual({ logSeverityScreen: 'Info', nodeToNodeMeshEnabled: false, asNumber: 64600 });
    expect(Object.keys(state.objects).filter((k) => k.startsWith('CustomResourceDefinition/'))).toHaveLength(24);
    // run again: every apply is found in sync by kubectl diff and skipped
    const again = await knit(['-o', 'json', 'init', '-f', calico, '--yes', '--skip', 'preflight'], { env });
    expect(JSON.parse(again.stdout).steps.filter((s: { id: string }) => s.id.startsWith('cni/')).map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual([
      'cni/crds:already-done', 'cni/apply:already-done', 'cni/annotate:unchanged',
    ]);
  });

  it('a CNI that does not roll out fails wait/cni-rollout naming the DaemonSet; a re-run resumes', async () => {
    const r = await init([], { FAKE_ROLLOUT_STUCK: 'kube-flannel-ds' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: step wait/cni-rollout failed');
    expect(r.stderr).toContain('rollout status daemonset/kube-flannel-ds');
    const resumed = await init();
    expect(resumed.code, resumed.stderr).toBe(0);
  });

  it('a node that never becomes Ready fails the wait step, and --skip goes on without it', async () => {
    const r = await init([], { FAKE_KUBECTL_NOT_READY: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: step wait/node-ready failed');
    expect(r.stderr).toContain('timed out waiting for the condition on nodes/master-1');
    expect(r.stderr).toContain('--skip wait/node-ready');
    expect((await init(['--skip', 'wait/node-ready'], { FAKE_KUBECTL_NOT_READY: '1' })).code).toBe(0);
  });

  it('--skip wait skips every wait: the node Ready and the CNI rollout (neither would end here)', async () => {
    const r = await init(['--skip', 'wait', '-o', 'json'], { FAKE_KUBECTL_NOT_READY: '1', FAKE_ROLLOUT_STUCK: 'kube-flannel-ds' });
    expect(r.code, r.stderr).toBe(0);
    const statuses = (JSON.parse(r.stdout) as { steps: { id: string; status: string }[] }).steps.map((s) => `${s.id}:${s.status}`);
    expect(statuses.slice(-2)).toEqual(['wait/node-ready:skipped', 'wait/cni-rollout:skipped']);
    expect((await calls()).filter((c) => / wait | rollout /.test(c))).toEqual([]);
  });

  it('the old id cni/rollout still skips the rollout wait, and so does --skip cni', async () => {
    for (const skip of ['cni/rollout', 'cni']) {
      const r = await init(['--skip', skip, '-o', 'json'], { FAKE_ROLLOUT_STUCK: 'kube-flannel-ds' });
      expect(r.code, `${skip}: ${r.stderr}`).toBe(0);
      const steps = (JSON.parse(r.stdout) as { steps: { id: string; status: string }[] }).steps;
      expect(steps.find((s) => s.id === 'wait/cni-rollout')?.status, skip).toBe('skipped');
    }
  });

  it('off ECS, init says so as information, not as a problem', async () => {
    const r = await init(['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe('not on ECS: using the spec and flags only');
  });
});

const support = await probeLabSupport(['nft']); // knit's cross-VPC address map
describeLab('knit init with the cross-VPC phase, inside a network namespace', support, () => {
  const lab = new Lab();
  let ns: string;
  beforeAll(async () => void (ns = await lab.addNamespace('master')));
  afterAll(() => lab.destroy());
  const initInNs = () =>
    lab.run(ns, [...host.envArgs(), 'node', KNIT_BIN, '-o', 'json', 'init', '-f', config, '--yes', '--skip', 'preflight']);

  it('loads the address map before kubeadm, persists it and enables the unit; a re-run changes nothing', async () => {
    const table = () => lab.run(ns, ['nft', '-j', 'list', 'table', 'ip', 'knit']); // with handles: a re-created table differs
    const first = JSON.parse(await initInNs()) as { steps: { id: string; status: string }[] };
    expect(first.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'preflight:skipped',
      'crossvpc/map:applied', 'crossvpc/persist:applied', 'crossvpc/boot:applied', 'kubeadm/config:applied',
      'kubeadm/init:applied', 'kubeconfig:applied', 'crossvpc/annotate:applied',
      'cni/apply:applied', 'wait/node-ready:unchanged', 'wait/cni-rollout:unchanged',
    ]);
    const loaded = await table();
    expect(await lab.run(ns, ['nft', 'list', 'map', 'ip', 'knit', 'peer_public'])).toContain('elements = { 172.17.0.20 : 198.51.100.20 }');
    expect(await readFile(join(root, 'etc/knit/crossvpc.nft'), 'utf8')).toContain('table ip knit {');
    expect(await calls()).toContain('systemctl enable knit-crossvpc.service');
    expect((await calls()).some((c) => c.includes('public-ip-overwrite'))).toBe(false);
    // published for the other nodes' agents, once registered
    expect(await calls()).toContain(`kubectl --kubeconfig ${root}/etc/kubernetes/admin.conf annotate --overwrite node master-1 knit.dev/public-ip=203.0.113.10`);
    expect(await calls()).toContain('systemctl enable --now knit-crossvpc-agent.service');
    // the map is in place before kubeadm runs (a control plane joining across VPCs dials etcd peers' private IPs)
    const ids = first.steps.map((s) => s.id);
    expect(ids.indexOf('crossvpc/map')).toBeLessThan(ids.indexOf('kubeadm/init'));

    const again = JSON.parse(await initInNs()) as { steps: { id: string; status: string }[] };
    expect(again.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'preflight:skipped',
      'crossvpc/map:unchanged', 'crossvpc/persist:unchanged', 'crossvpc/boot:already-done', 'kubeadm/config:unchanged',
      'kubeadm/init:already-done', 'kubeconfig:unchanged', 'crossvpc/annotate:unchanged',
      'cni/apply:already-done', 'wait/node-ready:unchanged', 'wait/cni-rollout:unchanged',
    ]);
    expect(await table()).toBe(loaded);
  });
});
