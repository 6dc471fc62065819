/**
 * The CNI renderers: each mode's knobs land where the plugin reads them, images follow the mirror or
 * registry, MTUs follow the encapsulation, and a template that drifted from what the patches expect
 * fails loudly instead of rendering something half-patched.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cniNodeLabels, describePodMtu, pluginsOf, podMtu, renderCni, type RenderedCni } from '../src/cni/index.js';
import { parseImage, rewriteImage } from '../src/cni/images.js';
import { TemplateDriftError } from '../src/cni/manifest.js';
import type { AccessKey } from '../src/cni/types.js';
import { readTemplate } from '../src/host/templates.js';
import { renderInitConfig } from '../src/kubeadm/render.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';
import { MASK, secretForms } from '../src/ui/redact.js';
import { createFakeHost } from './helpers/fake-host.js';
import { knit } from './helpers/knit.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const spec = (network: SpecInput['network'], extra: Partial<SpecInput> = {}) =>
  loadSpec({
    file: {
      name: 'spec.yaml',
      text: JSON.stringify({ kubernetes: { controlPlaneEndpoint: '10.0.0.10' }, network, nodes: [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' }], ...extra }),
    },
    hostname: 'cp-1',
  }).spec;

const render = (network: SpecInput['network'], extra: Partial<SpecInput> = {}, opts: { accessKey?: AccessKey } = {}) =>
  renderCni({ spec: spec(network, extra), template: readTemplate, accessKey: opts.accessKey });

const objects = (r: RenderedCni): Obj[] => r.applies.flatMap((a) => parseAllDocuments(a.yaml).map((d) => d.toJS() as Obj));
const find = (r: RenderedCni, kind: string, name: string): Obj => {
  const o = objects(r).find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const container = (workload: Obj, name: string): Obj =>
  [...(workload.spec.template.spec.initContainers ?? []), ...workload.spec.template.spec.containers].find((c: Obj) => c.name === name);
const env = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).filter((e: Obj) => 'value' in e).map((e: Obj) => [e.name, e.value]));
/**
 * Terway's policy container: the capabilities the chart (templates/terwayd/daemonset.yaml) gives it
 * outside its `ebpf`/datapath-v2 block (test/cni-terway-eni.test.ts reads them from the chart).
 */
const CHART_NON_EBPF_POLICY_CAPS = ['NET_ADMIN', 'DAC_OVERRIDE', 'SYS_ADMIN', 'NET_RAW', 'SYS_MODULE'];

describe('flannel', () => {
  const netConf = (r: RenderedCni) => JSON.parse(find(r, 'ConfigMap', 'kube-flannel-cfg').data['net-conf.json']);
  const delegateMtu = (r: RenderedCni) =>
    JSON.parse(find(r, 'ConfigMap', 'kube-flannel-cfg').data['cni-conf.json']).plugins.find((p: Obj) => p.type === 'flannel').delegate.mtu;

  it('vxlan: the pod network is kubeadm podSubnet, VNI/port/DirectRouting as given, MTU per node = its NIC − 50', () => {
    const r = render({ plugin: 'flannel', flannel: { vni: 4096, port: 4789, directRouting: true } }, { kubernetes: { controlPlaneEndpoint: '10.0.0.10', podSubnet: '10.32.0.0/16' } });
    expect(netConf(r)).toEqual({ Network: '10.32.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan', VNI: 4096, Port: 4789, DirectRouting: true } });
    // no delegate mtu: flannel's CNI plugin takes FLANNEL_MTU, which flanneld writes per node
    expect(delegateMtu(r)).toBeUndefined();
    expect(r.mtu).toEqual({ kind: 'per-node', overhead: 50 });
    expect(describePodMtu(r.mtu)).toBe('per node: its interface MTU − 50');
    expect(r.needs).toEqual([{ protocol: 'udp', number: 4789, what: 'VXLAN' }]);
    expect(r.rollouts).toEqual([{ kind: 'daemonset', namespace: 'kube-flannel', name: 'kube-flannel-ds' }]);
  });

  it('host-gw has no overhead and needs nothing opened; wireguard costs 80 bytes (flannel v0.28) and UDP 51820', () => {
    const hostGw = render({ plugin: 'flannel', flannel: { backend: 'host-gw' } });
    expect(netConf(hostGw).Backend).toEqual({ Type: 'host-gw' });
    expect([delegateMtu(hostGw), hostGw.mtu, hostGw.needs]).toEqual([undefined, { kind: 'per-node', overhead: 0 }, []]);
    expect(describePodMtu(hostGw.mtu)).toBe("per node: its interface's MTU");
    const wg = render({ plugin: 'flannel', flannel: { backend: 'wireguard' } });
    expect(netConf(wg).Backend).toEqual({ Type: 'wireguard', ListenPort: 51820 });
    expect([delegateMtu(wg), wg.mtu, wg.needs]).toEqual([undefined, { kind: 'per-node', overhead: 80 }, [{ protocol: 'udp', number: 51820, what: 'WireGuard' }]]);
    // what a node gets: a jumbo-frame node and a 1400-byte VPN node each their own
    const wgSpec = spec({ plugin: 'flannel', flannel: { backend: 'wireguard' } });
    expect([podMtu(wgSpec, 'flannel', 9000), podMtu(wgSpec, 'flannel', 1400)]).toEqual([8920, 1320]);
  });

  it("an MTU given in the spec is every node's: the delegate carries it", () => {
    const r = render({ plugin: 'flannel', flannel: { mtu: 1350 } });
    expect(delegateMtu(r)).toBe(1350);
    expect(r.mtu).toEqual({ kind: 'fixed', mtu: 1350, field: 'network.flannel.mtu' });
    expect(podMtu(spec({ plugin: 'flannel', flannel: { mtu: 1350 } }), 'flannel', 9000)).toBe(1350);
  });

  it('objects the patches do not touch are the template text as written (comments and all)', () => {
    const text = render({ plugin: 'flannel' }).applies[0]!.yaml;
    const template = readTemplate('flannel/v0.28.9/kube-flannel.yaml');
    const clusterRole = /kind: ClusterRole\n[\s\S]*?(?=---)/.exec(template)![0];
    expect(text).toContain(clusterRole);
  });
});

describe('calico', () => {
  const node = (r: RenderedCni) => container(find(r, 'DaemonSet', 'calico-node'), 'calico-node');
  const config = (r: RenderedCni) => find(r, 'ConfigMap', 'calico-config').data;

  it.each([
    ['ipip', 'Always', 'Never', 'bird', 20, ['-bird-live']],
    ['crosssubnet', 'CrossSubnet', 'Never', 'bird', 20, ['-bird-live']],
    ['bgp', 'Never', 'Never', 'bird', 0, ['-bird-live']],
    ['vxlan', 'Never', 'Always', 'vxlan', 50, []],
  ] as const)('%s: IPIP %s, VXLAN %s, backend %s, veth MTU "0" (felix: each node minus %i)', (mode, ipip, vxlan, backend, overhead, birdProbe) => {
    const r = render({ plugin: 'calico', calico: { mode } });
    const mtu = '0';
    expect(r.mtu).toEqual({ kind: 'per-node', overhead });
    expect(env(node(r))).toMatchObject({ CALICO_IPV4POOL_IPIP: ipip, CALICO_IPV4POOL_VXLAN: vxlan, CALICO_IPV4POOL_CIDR: '192.168.0.0/16', IP_AUTODETECTION_METHOD: 'kubernetes-internal-ip' });
    expect(config(r)).toMatchObject({ calico_backend: backend, veth_mtu: mtu });
    expect(node(r).livenessProbe.exec.command.slice(2)).toEqual(birdProbe);
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    expect(r.applies[0]!.crds).toHaveLength(24);
  });

  it("network.calico.mtu is every node's veth_mtu (felix's IPIP/VXLAN/WireGuard MTUs follow it)", () => {
    const r = render({ plugin: 'calico', calico: { mode: 'vxlan', mtu: 8950 } });
    expect(config(r).veth_mtu).toBe('8950');
    expect(r.mtu).toEqual({ kind: 'fixed', mtu: 8950, field: 'network.calico.mtu' });
  });

  it('lists what each mode needs between nodes: BGP and IP protocol 4, BGP alone, or VXLAN', () => {
    expect(render({ plugin: 'calico', calico: { mode: 'ipip' } }).needs.map((n) => `${n.protocol}/${n.number}`)).toEqual(['tcp/179', 'ip/4']);
    expect(render({ plugin: 'calico', calico: { mode: 'bgp' } }).needs.map((n) => `${n.protocol}/${n.number}`)).toEqual(['tcp/179']);
    expect(render({ plugin: 'calico', calico: { mode: 'vxlan' } }).needs.map((n) => `${n.protocol}/${n.number}`)).toEqual(['udp/4789']);
  });

  it('BGP: AS number and mesh in BGPConfiguration, route reflectors by label, external peers as BGPPeers', () => {
    const s = spec(
      { plugin: 'calico', calico: { mode: 'bgp', asNumber: 64600, nodeToNodeMesh: false, routeReflectors: ['cp-1'], peers: [{ ip: '10.0.0.1', asNumber: 64500 }] } },
    );
    const r = renderCni({ spec: s, template: readTemplate });
    expect(find(r, 'BGPConfiguration', 'default').spec).toEqual({ logSeverityScreen: 'Info', nodeToNodeMeshEnabled: false, asNumber: 64600 });
    expect(find(r, 'BGPPeer', 'knit-route-reflectors').spec).toEqual({ nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" });
    expect(find(r, 'BGPPeer', 'knit-peer-10-0-0-1').spec).toEqual({ peerIP: '10.0.0.1', asNumber: 64500 });
    expect(cniNodeLabels(s, s.nodes[0]!)).toEqual({ 'route-reflector': 'true' });
    expect(renderInitConfig(s, s.nodes[0]!)).toContain('value: route-reflector=true');
  });

  it('CRDs are apiextensions.k8s.io/v1 with a schema that keeps every field', () => {
    const crd = find(render({ plugin: 'calico' }), 'CustomResourceDefinition', 'ippools.crd.projectcalico.org');
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.spec).toMatchObject({ group: 'crd.projectcalico.org', scope: 'Cluster', names: { kind: 'IPPool', plural: 'ippools' } });
    expect(crd.spec.versions[0].schema.openAPIV3Schema).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  });
});

describe('canal', () => {
  const config = (r: RenderedCni) => find(r, 'ConfigMap', 'canal-config').data;
  const ds = (r: RenderedCni) => find(r, 'DaemonSet', 'canal');

  it("one DaemonSet runs calico-node (policy only) and flannel v0.24.4 (upstream's pin); net-conf.json is the pod network with VXLAN at the spec's VNI/port", () => {
    const r = render({ plugin: 'canal', canal: { vni: 4096, port: 4789 } }, { kubernetes: { controlPlaneEndpoint: '10.0.0.10', podSubnet: '10.32.0.0/16' } });
    expect(JSON.parse(config(r)['net-conf.json'])).toEqual({ Network: '10.32.0.0/16', Backend: { Type: 'vxlan', VNI: 4096, Port: 4789 } });
    expect(config(r)).toMatchObject({ canal_iface: '', masquerade: 'true', veth_mtu: '0' });
    expect(container(ds(r), 'kube-flannel').image).toBe('docker.io/flannel/flannel:v0.24.4');
    expect(env(container(ds(r), 'calico-node'))).toMatchObject({ CALICO_NETWORKING_BACKEND: 'none', CALICO_IPV4POOL_CIDR: '10.32.0.0/16', FELIX_MTUIFACEPATTERN: '^flannel\\.1$' });
    expect(r.needs).toEqual([{ protocol: 'udp', number: 4789, what: 'VXLAN' }]);
    expect(r.rollouts).toEqual([
      { kind: 'daemonset', namespace: 'kube-system', name: 'canal' },
      { kind: 'deployment', namespace: 'kube-system', name: 'calico-kube-controllers' },
    ]);
  });

  it("canal.yaml's bundled CRDs are applied once, from Calico's table, first, and waited for (the same 24 names)", () => {
    const r = render({ plugin: 'canal' });
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    const upstreamCrds = [...readTemplate('calico/v3.30.7/canal.yaml').matchAll(/^kind: CustomResourceDefinition\n[\s\S]*?^  name: (\S+)/gm)].map((m) => m[1]);
    expect(upstreamCrds).toHaveLength(24);
    expect([...r.applies[0]!.crds].sort()).toEqual([...upstreamCrds].sort());
    expect(objects(r).filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(24);
    expect(r.applies[1]!.yaml).not.toContain('kind: CustomResourceDefinition');
  });

  it('the pod MTU: per node (flannel.1: interface − 50) unless network.canal.mtu sets veth_mtu for every node', () => {
    const r = render({ plugin: 'canal' });
    expect(r.mtu).toEqual({ kind: 'per-node', overhead: 50 });
    expect(podMtu(spec({ plugin: 'canal' }), 'canal', 9000)).toBe(8950);
    const fixed = render({ plugin: 'canal', canal: { mtu: 1400 } });
    expect(config(fixed).veth_mtu).toBe('1400');
    expect(fixed.mtu).toEqual({ kind: 'fixed', mtu: 1400, field: 'network.canal.mtu' });
  });

  it('images follow the mirror and the private registry', () => {
    expect(render({ plugin: 'canal' }, { mirror: 'cn' }).images().sort()).toEqual([
      'm.daocloud.io/docker.io/calico/cni:v3.30.7',
      'm.daocloud.io/docker.io/calico/kube-controllers:v3.30.7',
      'm.daocloud.io/docker.io/calico/node:v3.30.7',
      'm.daocloud.io/docker.io/flannel/flannel:v0.24.4',
    ]);
    expect(render({ plugin: 'canal' }, { imageRegistry: 'registry.example.com' }).images()).toContain('registry.example.com/flannel/flannel:v0.24.4');
  });

  it('a template without the canal-config keys knit pins is drift, not a silent default', () => {
    const template = (path: string) => readTemplate(path).replace('canal_iface: ""', 'some_iface: ""');
    expect(() => renderCni({ spec: spec({ plugin: 'canal' }), template })).toThrow(/template drift in calico\/v3.30.7\/canal.yaml: ConfigMap canal-config: no data.canal_iface/);
  });

  it('the template is upstream canal.yaml byte for byte: its sha256 is the one templates/SOURCES.md records', async () => {
    const { createHash } = await import('node:crypto');
    const sources = await readFile(join(import.meta.dirname, '../templates/SOURCES.md'), 'utf8');
    const recorded = /`calico\/v3\.30\.7\/canal\.yaml`[^\n]*?sha256 `([0-9a-f]{64})`/.exec(sources)?.[1];
    expect(recorded).toMatch(/^[0-9a-f]{64}$/);
    expect(createHash('sha256').update(readTemplate('calico/v3.30.7/canal.yaml')).digest('hex')).toBe(recorded);
  });

  it('cannot be the external plugin of a hybrid Terway cluster', () => {
    expect(() => spec({ plugin: 'terway', hybrid: { externalPlugin: 'canal' } } as unknown as SpecInput['network'])).toThrow(/network\.hybrid\.externalPlugin/);
  });
});

describe('terway', () => {
  const eniConf = (r: RenderedCni) => JSON.parse(find(r, 'ConfigMap', 'eni-config').data.eni_conf);
  const terway = { plugin: 'terway' as const, terway: { vswitches: { 'cn-hangzhou-h': ['vsw-1'] }, securityGroups: ['sg-1'], maxPoolSize: 10, minPoolSize: 2 } };

  it('eni_conf carries vSwitches per zone, security groups, the service CIDR and pool sizes; IPAM stays on the node', () => {
    const conf = eniConf(render(terway));
    expect(conf).toMatchObject({ vswitches: { 'cn-hangzhou-h': ['vsw-1'] }, security_groups: ['sg-1'], service_cidr: '10.96.0.0/12', max_pool_size: 10, min_pool_size: 2, vswitch_selection_policy: 'ordered' });
    expect(conf).not.toHaveProperty('ipam_type');
    expect(conf).not.toHaveProperty('access_key');
  });

  it('NetworkPolicy on: felix (iptables) with Calico CRDs first; off: no CRDs', () => {
    const on = render(terway);
    expect(find(on, 'ConfigMap', 'eni-config').data.disable_network_policy).toBe('false');
    expect(JSON.parse(find(on, 'ConfigMap', 'eni-config').data['10-terway.conf']).network_policy_provider).toBe('iptables');
    expect(on.applies[0]!.crds).toContain('felixconfigurations.crd.projectcalico.org');
    expect(on.applies[0]!.crds.every((n) => n.endsWith('.crd.projectcalico.org'))).toBe(true);
    const off = render({ ...terway, terway: { ...terway.terway, networkPolicy: false } });
    expect(find(off, 'ConfigMap', 'eni-config').data.disable_network_policy).toBe('true');
    expect(off.applies.map((a) => a.name)).toEqual(['cni']);
  });

  it('no overlay: no MTU overhead and nothing to open between nodes; exclusive ENI is a node label', () => {
    const r = render({ ...terway, terway: { ...terway.terway, mode: 'eni' } }, { alicloud: { vpcId: 'vpc-test' } });
    expect([r.mtu, r.needs]).toEqual([{ kind: 'per-node', overhead: 0 }, []]);
    const s = spec({ plugin: 'terway', terway: { mode: 'eni' } });
    expect(cniNodeLabels(s, s.nodes[0]!)).toEqual({ 'k8s.aliyun.com/exclusive-mode-eni-type': 'eniOnly' });
  });

  it("the policy container keeps the chart's non-ebpf capabilities only (CHOWN, IPC_LOCK, SYS_RESOURCE are Cilium's)", () => {
    for (const r of [render(terway), render({ ...terway, terway: { ...terway.terway, networkPolicy: false } })])
      expect(container(find(r, 'DaemonSet', 'terway-eniip'), 'policy').securityContext).toEqual({ privileged: false, capabilities: { add: CHART_NON_EBPF_POLICY_CAPS } });
  });

  it('an AccessKey goes into a Secret mounted where terwayd reads it, never into the ConfigMap', () => {
    const key = { accessKeyId: 'LTAI5tExampleKeyId', accessKeySecret: 'not-a-real-secret-0123456789' };
    const r = render(terway, {}, { accessKey: key });
    expect(find(r, 'Secret', 'alibaba-addon-secret').stringData).toEqual({ 'access-key-id': key.accessKeyId, 'access-key-secret': key.accessKeySecret });
    expect(JSON.stringify(find(r, 'ConfigMap', 'eni-config'))).not.toContain(key.accessKeySecret);
    const ds = find(r, 'DaemonSet', 'terway-eniip');
    expect(ds.spec.template.spec.volumes).toContainEqual({ name: 'alibaba-addon-secret', secret: { secretName: 'alibaba-addon-secret', optional: true } });
    expect(container(ds, 'terway').volumeMounts).toContainEqual({ name: 'alibaba-addon-secret', mountPath: '/var/alibaba-addon-secret', readOnly: true });
    expect(JSON.stringify(render(terway))).not.toContain('alibaba-addon-secret');
  });
});

describe('hybrid clusters', () => {
  it('Terway stays off nodes labelled alibabacloud.com/external=true and the external plugin stays on them', () => {
    const r = render({ plugin: 'terway', terway: { networkPolicy: false }, hybrid: { externalPlugin: 'calico' } });
    const terms = (ds: Obj) => ds.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    for (const term of terms(find(r, 'DaemonSet', 'terway-eniip')))
      expect(term.matchExpressions).toContainEqual({ key: 'alibabacloud.com/external', operator: 'NotIn', values: ['true'] });
    expect(terms(find(r, 'DaemonSet', 'calico-node'))).toEqual([{ matchExpressions: [{ key: 'alibabacloud.com/external', operator: 'In', values: ['true'] }] }]);
    expect(r.title).toBe('Terway ENIMultiIP (v1.16.7) + Calico ipip (v3.30.7) on external nodes');
  });

  it('Terway with NetworkPolicy next to Calico: Calico CRDs come first, each applied and waited for once', () => {
    const r = render({ plugin: 'terway', hybrid: { externalPlugin: 'calico' } });
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    expect(r.applies[0]!.crds).toHaveLength(24);
    expect(new Set(r.applies[0]!.crds).size).toBe(24);
    // both sides bring Calico's crd.projectcalico.org CRDs (22 of the 24): the apply holds each once
    const applied = parseAllDocuments(r.applies[0]!.yaml).map((d) => (d.toJS() as Obj).metadata.name as string);
    expect(applied).toHaveLength(24);
    expect(applied.sort()).toEqual([...r.applies[0]!.crds].sort());
    // no other object of the cluster is dropped or doubled by that
    const names = objects(r).map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(names.length).toBe(new Set(names).size);
  });

  it('external nodes register with the label; a hybrid spec needs Terway', () => {
    const s = spec({ plugin: 'terway', hybrid: { externalPlugin: 'flannel' } }, {
      nodes: [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10', vpc: 'a' }, { name: 'idc-1', privateIP: '10.0.0.20', vpc: 'a', external: true }],
    });
    expect(cniNodeLabels(s, s.nodes[1]!)).toEqual({ 'alibabacloud.com/external': 'true' });
    expect(cniNodeLabels(s, s.nodes[0]!)).toEqual({});
    expect(() => spec({ plugin: 'flannel', hybrid: { externalPlugin: 'calico' } })).toThrow('network.hybrid: hybrid clusters run Terway on ECS nodes; network.plugin is flannel');
  });
});

describe('images', () => {
  it('parses references the way container runtimes do', () => {
    expect(parseImage('ghcr.io/flannel-io/flannel:v0.28.9')).toEqual({ registry: 'ghcr.io', path: 'flannel-io/flannel', suffix: ':v0.28.9' });
    expect(parseImage('calico/node:v3.30.7')).toEqual({ registry: 'docker.io', path: 'calico/node', suffix: ':v3.30.7' });
    expect(parseImage('busybox')).toEqual({ registry: 'docker.io', path: 'library/busybox', suffix: '' });
    expect(parseImage('localhost:5000/a/b@sha256:abc')).toEqual({ registry: 'localhost:5000', path: 'a/b', suffix: '@sha256:abc' });
  });

  it('mirror cn goes through m.daocloud.io, except images already on Alibaba Cloud registries', () => {
    expect(rewriteImage('docker.io/calico/node:v3.30.7', { mirror: 'cn' })).toBe('m.daocloud.io/docker.io/calico/node:v3.30.7');
    const keep = 'registry-cn-hangzhou.ack.aliyuncs.com/acs/terway:v1.16.7';
    expect(rewriteImage(keep, { mirror: 'cn' })).toBe(keep);
    expect(render({ plugin: 'flannel' }, { mirror: 'cn' }).images()).toEqual([
      'm.daocloud.io/ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3',
      'm.daocloud.io/ghcr.io/flannel-io/flannel:v0.28.9',
    ]);
  });

  it('a private registry replaces the host and keeps the upstream path, for the CNI and for kubeadm', () => {
    const r = render({ plugin: 'calico' }, { imageRegistry: 'registry.example.com:5000/mirror' });
    expect(r.images().sort()).toEqual(['registry.example.com:5000/mirror/calico/cni:v3.30.7', 'registry.example.com:5000/mirror/calico/kube-controllers:v3.30.7', 'registry.example.com:5000/mirror/calico/node:v3.30.7']);
    expect(spec({ plugin: 'calico' }, { imageRegistry: 'registry.example.com:5000/mirror' }).kubernetes.imageRepository).toBe('registry.example.com:5000/mirror');
  });
});

describe('template drift', () => {
  const withTemplate = (path: string, edit: (text: string) => string) => (p: string) => (p === path ? edit(readTemplate(p)) : readTemplate(p));

  it('an env var a patch sets that vanished from the template is an error naming it', () => {
    const template = withTemplate('calico/v3.30.7/calico.yaml', (t) => t.replace('- name: CALICO_IPV4POOL_IPIP', '- name: CALICO_IPV4POOL_IPIP_RENAMED'));
    expect(() => renderCni({ spec: spec({ plugin: 'calico' }), template })).toThrow(TemplateDriftError);
    expect(() => renderCni({ spec: spec({ plugin: 'calico' }), template })).toThrow(/calico-node has no env CALICO_IPV4POOL_IPIP/);
  });

  it('a renamed object or a JSON key the patch relies on is an error, not a silent skip', () => {
    const renamed = withTemplate('flannel/v0.28.9/kube-flannel.yaml', (t) => t.replace('name: kube-flannel-cfg\n  namespace', 'name: flannel-cfg\n  namespace'));
    expect(() => renderCni({ spec: spec({ plugin: 'flannel' }), template: renamed })).toThrow('template drift in flannel/v0.28.9/kube-flannel.yaml: no ConfigMap kube-flannel-cfg');
    const noPolicy = withTemplate('terway/v1.16.7/terway-eniip.yaml', (t) => t.replace('"vswitch_selection_policy": "ordered"', '"selection": "ordered"'));
    expect(() => renderCni({ spec: spec({ plugin: 'terway' }), template: noPolicy })).toThrow('eni_conf has no vswitch_selection_policy');
  });
});

describe('knit render with an AccessKey (the real binary)', () => {
  // ", \ and / escape in JSON and YAML: the secret must be masked in its escaped forms too
  const SECRET = 'kNiT"TeSt\\SeC/rEt-9f8e7d6c5b4a';
  const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI5tKnitTestKeyId', ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET };
  const specText = JSON.stringify({
    kubernetes: { controlPlaneEndpoint: '10.0.0.10' },
    network: { plugin: 'terway', terway: { credentials: 'access-key' } },
    nodes: [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' }],
  });
  /** The secret in none of the forms the redactor knows (as typed, JSON-escaped once or twice, YAML-quoted, base64). */
  const expectNoSecret = (text: string, secret: string) => {
    expect(text).not.toContain(secret);
    for (const form of secretForms(secret)) expect(text, form).not.toContain(form);
  };

  it('never prints the secret (render and init --dry-run, text and JSON), writes it only into cni.yaml (0600), and exits 4 without it', async () => {
    for (const c of ['"', '\\', '/']) expect(SECRET).toContain(c);
    const dir = await mkdtemp(join(tmpdir(), 'knit-ak-'));
    const config = join(dir, 'cluster.yaml');
    await writeFile(config, specText);
    const runs = await Promise.all([
      knit(['render', '-f', config], { env }),
      knit(['-o', 'json', 'render', '-f', config], { env }),
      knit(['render', '-f', config, '--out', join(dir, 'out')], { env }),
      knit(['init', '-f', config, '--dry-run'], { env }),
      knit(['-o', 'json', 'init', '-f', config, '--dry-run'], { env }),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expectNoSecret(`${r.stdout}${r.stderr}`, SECRET);
    }
    // the Secret is there, masked: text shows the manifest's JSON, -o json escapes that once more
    expect(runs[0]!.stdout).toContain(`"access-key-secret": "${MASK}"`);
    expect(runs[1]!.stdout).toContain(`\\"access-key-secret\\": \\"${MASK}\\"`);
    expect(runs[4]!.stdout).toContain(`\\"access-key-secret\\": \\"${MASK}\\"`);
    const cni = await readFile(join(dir, 'out', 'cni.yaml'), 'utf8');
    expect(cni).toContain(JSON.stringify(SECRET));
    expect((await stat(join(dir, 'out', 'cni.yaml'))).mode & 0o777).toBe(0o600);
    expectNoSecret(await readFile(join(dir, 'out', 'plan.txt'), 'utf8'), SECRET);

    const missing = await knit(['render', '-f', config], { env: {} });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('network.terway.credentials: access-key needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET');
  });

  it('join --dry-run (text and JSON) prints neither the token\'s secret half nor the certificate key', async () => {
    const host = await createFakeHost();
    try {
      const [tokenSecret, key] = ['k1n2i3t4s5e6c7r8', 'c0de'.repeat(16)];
      const args = ['join', '--dry-run', '--skip', 'preflight', '--endpoint', '203.0.113.10:6443', '--token', `knit01.${tokenSecret}`, '--ca-cert-hash', `sha256:${'e'.repeat(64)}`,
        '--advertise-address', '172.17.0.20', '--node-name', 'cp-2', '--k8s-version', '1.32.4', '--control-plane', '--certificate-key', key];
      const runs = await Promise.all([knit(args, { env: host.env }), knit(['-o', 'json', ...args], { env: host.env })]);
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(0);
        expectNoSecret(`${r.stdout}${r.stderr}`, tokenSecret);
        expectNoSecret(`${r.stdout}${r.stderr}`, key);
      }
      // the JSON plan holds the join configuration's content, its secrets masked
      const content = String(JSON.parse(runs[1]!.stdout).steps.find((s: { id: string }) => s.id === 'kubeadm/config').effects[0].content);
      expect(content).toContain(`token: knit01.${MASK}\n`);
      expect(content).toContain(`certificateKey: ${MASK}\n`);
      expect(await host.calls()).toEqual([]);
    } finally {
      await host.cleanup();
    }
  });
});

describe('schema validation (knit render --validate, and init before it applies)', () => {
  it('passes every rendered object and names the object and field of a broken one', async () => {
    const { validateManifest } = await import('../src/cni/validate.js');
    const r = render({ plugin: 'calico', calico: { mode: 'bgp', peers: [{ ip: '10.0.0.1', asNumber: 64500 }] } });
    expect(await validateManifest(r.applies.map((a) => a.yaml).join('---\n'))).toEqual([]);
    // the last probe of the manifest is calico-kube-controllers' readiness probe
    const yaml = r.applies[1]!.yaml;
    const at = yaml.lastIndexOf('periodSeconds: 10');
    const broken = `${yaml.slice(0, at)}periodSeconds: "ten"${yaml.slice(at + 'periodSeconds: 10'.length)}`;
    expect(broken).not.toBe(yaml);
    const problems = await validateManifest(broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.object).toBe('Deployment calico-kube-controllers');
    expect(problems[0]!.message).toMatch(/periodSeconds must be integer/);
    expect(await validateManifest('apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n')).toEqual([{ object: 'Widget w', message: 'knit has no schema for example.com/v1/Widget' }]);
  });
});

describe('any valid network spec (fast-check)', () => {
  it('renders manifests that pass schema validation, hand out kubeadm podSubnet and fit the host MTU', async () => {
    const fc = (await import('fast-check')).default;
    const { validateManifest } = await import('../src/cni/validate.js');
    const network = fc.oneof(
      fc.record({ plugin: fc.constant('canal' as const), canal: fc.record({ vni: fc.integer({ min: 1, max: 16777215 }), port: fc.integer({ min: 1024, max: 65535 }) }) }),
      fc.record({ plugin: fc.constant('flannel' as const), flannel: fc.record({ backend: fc.constantFrom('vxlan', 'host-gw', 'wireguard'), vni: fc.integer({ min: 1, max: 16777215 }), port: fc.integer({ min: 1024, max: 65535 }), directRouting: fc.boolean() }) }),
      fc.record({
        plugin: fc.constant('calico' as const),
        calico: fc.record({ mode: fc.constantFrom('ipip', 'crosssubnet', 'bgp', 'vxlan'), asNumber: fc.integer({ min: 1, max: 4294967295 }), nodeToNodeMesh: fc.boolean(), ipAutodetectionMethod: fc.constantFrom('kubernetes-internal-ip', 'can-reach=10.0.0.1', 'interface=eth0') })
          // without the mesh, a BGP peer carries the routes (the spec refuses BIRD modes with neither)
          .map((c) => (c.nodeToNodeMesh ? c : { ...c, peers: [{ ip: '10.0.0.1', asNumber: 64500 }] })),
      }),
      fc.record({
        plugin: fc.constant('terway' as const),
        // exclusive ENI has no NetworkPolicy engine (the spec refuses networkPolicy: true there)
        terway: fc
          .record({ mode: fc.constantFrom('eniip', 'eni'), networkPolicy: fc.boolean(), vswitchSelectionPolicy: fc.constantFrom('ordered', 'random'), maxPoolSize: fc.integer({ min: 5, max: 50 }) })
          .map((t) => (t.mode === 'eni' ? { ...t, networkPolicy: false } : t)),
        hybrid: fc.option(fc.record({ externalPlugin: fc.constantFrom('flannel', 'calico') }), { nil: undefined }),
      }),
    );
    const extra = fc.record({ mirror: fc.constantFrom('none', 'cn'), registry: fc.option(fc.constantFrom('registry.example.com', 'localhost:5000/k8s'), { nil: undefined }), hostMtu: fc.constantFrom(1500, 1450, 9000) });
    await fc.assert(
      fc.asyncProperty(network, extra, async (net, { mirror, registry, hostMtu }) => {
        // alicloud.vpcId: what terway-controlplane (exclusive ENI) needs; the other plugins ignore it
        const s = spec(net as SpecInput['network'], { mirror: mirror as 'none' | 'cn', alicloud: { vpcId: 'vpc-test' }, ...(registry ? { imageRegistry: registry } : {}) });
        const r = renderCni({ spec: s, template: readTemplate });
        const yaml = r.applies.map((a) => a.yaml).join('---\n');
        expect(await validateManifest(yaml)).toEqual([]);
        if (registry) expect(r.images().every((i) => i.startsWith(`${registry}/`))).toBe(true);
        const cidrs = objects(r).flatMap((o) => (o.kind === 'ConfigMap' && o.data?.['net-conf.json'] ? [JSON.parse(o.data['net-conf.json']).Network] : []));
        for (const c of cidrs) expect(c).toBe(s.kubernetes.podSubnet);
        // nothing node-specific in the manifests: each node's pod MTU fits its own interface
        expect(r.mtu.kind).toBe('per-node');
        for (const { def } of pluginsOf(s)) expect(podMtu(s, def.name, hostMtu)).toBeLessThanOrEqual(hostMtu);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
