/** knit doctor's diagnosis: each known trap found from fabricated host and cluster facts, with its fix. */
import { describe, expect, it } from 'vitest';
import { diagnose, type ClusterFacts, type DoctorFacts, type Finding } from '../src/doctor/diagnose.js';
import { loadSpec } from '../src/spec/load.js';
import type { NftDrift } from '../src/crossvpc/nft.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const caseSpec = (file: string) => loadSpec({ file: { name: file, text: readFileSync(join(import.meta.dirname, 'cases', file), 'utf8') }, hostname: 'x' }).spec;
const flannel = caseSpec('cross-vpc-flannel.yaml');
const terway = caseSpec('terway-eni-policy.yaml');

const healthyCluster = (over: Partial<ClusterFacts> = {}): ClusterFacts => ({
  nodes: [
    { name: 'master-1', ready: true, annotations: { 'knit.dev/public-ip': '203.0.113.10' }, allocatablePods: 110 },
    { name: 'worker-1', ready: true, annotations: { 'knit.dev/public-ip': '198.51.100.20' }, allocatablePods: 110 },
  ],
  pods: [
    { namespace: 'kube-flannel', name: 'kube-flannel-ds-a', node: 'master-1', phase: 'Running', ready: true, hostNetwork: true, owner: 'kube-flannel-ds' },
    { namespace: 'kube-flannel', name: 'kube-flannel-ds-b', node: 'worker-1', phase: 'Running', ready: true, hostNetwork: true, owner: 'kube-flannel-ds' },
  ],
  metricsServer: { container: 'metrics-server', args: ['--secure-port=10250', '--kubelet-preferred-address-types=InternalIP'] },
  ...over,
});
const inSyncMap = { drift: { table: 'current' as const, missing: [], unexpected: [] }, rulesFile: 'current' as const };
const facts = (over: Partial<DoctorFacts> = {}): DoctorFacts => ({
  spec: flannel,
  node: 'master-1',
  host: [{ id: 'cni/leftover-config', status: 'pass', reason: 'no other CNI configuration' }],
  crossVpc: inSyncMap,
  cluster: healthyCluster(),
  ...over,
});
const byId = (findings: Finding[], id: string) => findings.filter((f) => f.id === id);

describe('knit doctor', () => {
  it('a healthy cross-VPC flannel cluster has nothing to report', () => {
    const findings = diagnose(facts());
    expect(findings.filter((f) => f.status !== 'ok')).toEqual([]);
    expect(findings.map((f) => f.id)).toEqual(['host/cni-leftovers', 'crossvpc/map', 'cni/pods', 'flannel/public-ip-overwrite', 'crossvpc/public-ip', 'metrics-server/kubelet-address']);
  });

  it("another CNI's leftovers are a failure with preflight's fix", () => {
    const [f] = byId(diagnose(facts({ host: [{ id: 'cni/leftover-config', status: 'fail', reason: '/etc/cni/net.d holds 10-calico.conflist', fix: { title: 'Remove other CNIs', effects: [] } }] })), 'host/cni-leftovers');
    expect(f).toEqual({ id: 'host/cni-leftovers', status: 'fail', message: '/etc/cni/net.d holds 10-calico.conflist', fix: 'knit preflight --fix (Remove other CNIs)' });
  });

  it('address map missing, drifted, of another shape, or not saved for boot', () => {
    const map = (drift: Partial<NftDrift>, rulesFile: 'missing' | 'current' | 'outdated' = 'current') =>
      byId(diagnose(facts({ crossVpc: { drift: { ...inSyncMap.drift, ...drift }, rulesFile } })), 'crossvpc/map')[0];
    expect(map({ table: 'missing', missing: ['peer_public 172.17.0.20 : 198.51.100.20'] }, 'missing')).toMatchObject({ status: 'fail', message: expect.stringContaining('not loaded'), fix: 'knit crossvpc apply --node-name master-1' });
    expect(map({ unexpected: ['peer_public 172.17.0.99 : 198.51.100.99'] })).toMatchObject({ status: 'fail', message: expect.stringContaining('1 unexpected (peer_public 172.17.0.99 : 198.51.100.99)') });
    expect(map({ table: 'outdated' })).toMatchObject({ status: 'fail', message: expect.stringContaining('its rules differ') });
    expect(map({}, 'outdated')).toMatchObject({ status: 'warn', message: expect.stringContaining('a reboot would lose it') });
    expect(byId(diagnose(facts({ crossVpc: undefined })), 'crossvpc/map')[0]!.status).toBe('skip');
  });

  it("flannel's public-ip-overwrite left by earlier versions is named: pods of one VPC would tunnel through EIPs", () => {
    const cluster = healthyCluster();
    cluster.nodes[1]!.annotations = { 'flannel.alpha.coreos.com/public-ip-overwrite': '198.51.100.20' };
    const [f] = byId(diagnose(facts({ cluster })), 'flannel/public-ip-overwrite');
    expect(f).toMatchObject({ status: 'warn', message: expect.stringContaining('is set on worker-1'), fix: expect.stringContaining('knit crossvpc apply') });
    // canal runs flanneld too; Calico does not
    const canal = { ...flannel, network: { ...flannel.network, plugin: 'canal' as const } };
    expect(byId(diagnose(facts({ spec: canal, cluster })), 'flannel/public-ip-overwrite')[0]).toMatchObject({ status: 'warn' });
    const calico = { ...flannel, network: { ...flannel.network, plugin: 'calico' as const } };
    expect(byId(diagnose(facts({ spec: calico, cluster })), 'flannel/public-ip-overwrite')).toEqual([]);
  });

  it("canal's own pods are the canal DaemonSet's and calico-kube-controllers'", () => {
    const canal = { ...flannel, network: { ...flannel.network, plugin: 'canal' as const } };
    const cluster = healthyCluster({
      pods: [
        { namespace: 'kube-system', name: 'canal-a', node: 'master-1', phase: 'Running', ready: true, hostNetwork: true, owner: 'canal' },
        { namespace: 'kube-system', name: 'canal-b', node: 'worker-1', phase: 'Pending', ready: false, hostNetwork: true, owner: 'canal', waiting: 'ImagePullBackOff' },
      ],
    });
    expect(byId(diagnose(facts({ spec: canal, cluster })), 'cni/pods')[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('canal-b on worker-1 (ImagePullBackOff)') });
    expect(byId(diagnose(facts({ spec: canal })), 'cni/pods')[0]).toMatchObject({ status: 'fail', message: 'no canal/calico-kube-controllers pods: the CNI is not installed' });
  });

  it("a node outside its peers' VPC that publishes no knit.dev/public-ip is named, with the command that fixes it", () => {
    const cluster = healthyCluster();
    cluster.nodes[1]!.annotations = {};
    cluster.nodes.push({ name: 'autoscaled-1', ready: true, annotations: {}, allocatablePods: 110 });
    expect(byId(diagnose(facts({ cluster })), 'crossvpc/public-ip')[0]).toMatchObject({
      status: 'warn', message: expect.stringMatching(/^worker-1, autoscaled-1 publish no knit\.dev\/public-ip/), fix: expect.stringContaining('knit crossvpc annotate'),
    });
  });

  it('metrics-server without the pinned address type fails across VPCs', () => {
    const [f] = byId(diagnose(facts({ cluster: healthyCluster({ metricsServer: { container: 'metrics-server', args: ['--kubelet-preferred-address-types=Hostname,InternalIP'] } }) })), 'metrics-server/kubelet-address');
    expect(f).toMatchObject({ status: 'fail', fix: expect.stringContaining('--kubelet-preferred-address-types=InternalIP') });
  });

  it('CNI pods that are not Running, or none at all', () => {
    const cluster = healthyCluster();
    cluster.pods[1]!.phase = 'Pending';
    expect(byId(diagnose(facts({ cluster })), 'cni/pods')[0]).toMatchObject({ status: 'fail', message: '1 CNI pod(s) not Running: kube-flannel-ds-b on worker-1 (Pending)' });
    expect(byId(diagnose(facts({ cluster: healthyCluster({ pods: [] }) })), 'cni/pods')[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('not installed') });
  });

  it('Terway: ENI IPs near the limit warn, at the limit fail; rp_filter and FORWARD come from preflight; SNAT is said to be unchecked', () => {
    const pods = (node: string, n: number) => Array.from({ length: n }, (_, i) => ({ namespace: 'default', name: `app-${node}-${i}`, node, phase: 'Running', ready: true, hostNetwork: false, owner: 'app' }));
    const cluster: ClusterFacts = {
      nodes: [
        { name: 'cp-1', ready: true, annotations: {}, allocatablePods: 20 },
        { name: 'worker-1', ready: true, annotations: {}, allocatablePods: 20 },
      ],
      pods: [...pods('cp-1', 18), ...pods('worker-1', 20), { namespace: 'kube-system', name: 'terway-eniip-x', node: 'cp-1', phase: 'Running', ready: true, hostNetwork: true, owner: 'terway-eniip' }],
    };
    const findings = diagnose({
      spec: terway,
      node: 'cp-1',
      host: [
        { id: 'sysctl/rp_filter', status: 'fail', reason: 'net.ipv4.conf.all.rp_filter is 1; Terway needs 0' },
        { id: 'iptables/forward-policy', status: 'pass', reason: 'FORWARD policy ACCEPT' },
      ],
      crossVpc: { drift: { table: 'missing', missing: [], unexpected: [] }, rulesFile: 'missing' },
      cluster,
    });
    expect(byId(findings, 'terway/ip-quota').map((f) => [f.status, f.message])).toEqual([
      ['warn', 'cp-1: 18 of 20 pod IPs in use (ENI secondary IPs)'],
      ['fail', 'worker-1: 20 of 20 pod IPs in use (ENI secondary IPs)'],
    ]);
    expect(byId(findings, 'terway/rp_filter')[0]!.status).toBe('fail');
    expect(byId(findings, 'terway/forward-policy')[0]!.status).toBe('ok');
    expect(byId(findings, 'terway/snat')[0]!.status).toBe('skip');
    expect(byId(findings, 'crossvpc/map')[0]!.status).toBe('ok');
  });

  it('without a working kubeconfig the cluster checks are skipped, saying why', () => {
    const findings = diagnose(facts({ cluster: { error: 'no kubeconfig' } }));
    expect(byId(findings, 'cluster/reachable')[0]).toMatchObject({ status: 'skip', message: expect.stringContaining('no kubeconfig') });
  });
});
