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
import { cniNodeLabels, renderCni, type RenderedCni } from '../src/cni/index.js';
import { parseImage, rewriteImage } from '../src/cni/images.js';
import { TemplateDriftError } from '../src/cni/manifest.js';
import type { AccessKey } from '../src/cni/types.js';
import { readTemplate } from '../src/host/templates.js';
import { renderInitConfig } from '../src/kubeadm/render.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';
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

const render = (network: SpecInput['network'], extra: Partial<SpecInput> = {}, opts: { hostMtu?: number; accessKey?: AccessKey } = {}) =>
  renderCni({ spec: spec(network, extra), hostMtu: opts.hostMtu ?? 1500, template: readTemplate, accessKey: opts.accessKey });

const objects = (r: RenderedCni): Obj[] => r.applies.flatMap((a) => parseAllDocuments(a.yaml).map((d) => d.toJS() as Obj));
const find = (r: RenderedCni, kind: string, name: string): Obj => {
  const o = objects(r).find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const container = (workload: Obj, name: string): Obj =>
  [...(workload.spec.template.spec.initContainers ?? []), ...workload.spec.template.spec.containers].find((c: Obj) => c.name === name);
const env = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).filter((e: Obj) => 'value' in e).map((e: Obj) => [e.name, e.value]));

describe('flannel', () => {
  const netConf = (r: RenderedCni) => JSON.parse(find(r, 'ConfigMap', 'kube-flannel-cfg').data['net-conf.json']);
  const delegateMtu = (r: RenderedCni) =>
    JSON.parse(find(r, 'ConfigMap', 'kube-flannel-cfg').data['cni-conf.json']).plugins.find((p: Obj) => p.type === 'flannel').delegate.mtu;

  it('vxlan: the pod network is kubeadm podSubnet, VNI/port/DirectRouting as given, MTU = NIC − 50', () => {
    const r = render({ plugin: 'flannel', flannel: { vni: 4096, port: 4789, directRouting: true } }, { kubernetes: { controlPlaneEndpoint: '10.0.0.10', podSubnet: '10.32.0.0/16' } });
    expect(netConf(r)).toEqual({ Network: '10.32.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan', VNI: 4096, Port: 4789, DirectRouting: true } });
    expect(delegateMtu(r)).toBe(1450);
    expect(r.needs).toEqual([{ protocol: 'udp', number: 4789, what: 'VXLAN' }]);
    expect(r.rollouts).toEqual([{ kind: 'daemonset', namespace: 'kube-flannel', name: 'kube-flannel-ds' }]);
  });

  it('host-gw has no overhead and needs nothing opened; wireguard costs 80 bytes (flannel v0.28) and UDP 51820', () => {
    const hostGw = render({ plugin: 'flannel', flannel: { backend: 'host-gw' } }, {}, { hostMtu: 9000 });
    expect(netConf(hostGw).Backend).toEqual({ Type: 'host-gw' });
    expect([delegateMtu(hostGw), hostGw.needs]).toEqual([9000, []]);
    const wg = render({ plugin: 'flannel', flannel: { backend: 'wireguard' } });
    expect(netConf(wg).Backend).toEqual({ Type: 'wireguard', ListenPort: 51820 });
    expect([delegateMtu(wg), wg.needs]).toEqual([1420, [{ protocol: 'udp', number: 51820, what: 'WireGuard' }]]);
  });

  it('an MTU given in the spec wins over the computed one', () => {
    expect(delegateMtu(render({ plugin: 'flannel', flannel: { mtu: 1350 } }))).toBe(1350);
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
    ['ipip', 'Always', 'Never', 'bird', '1480', ['-bird-live']],
    ['crosssubnet', 'CrossSubnet', 'Never', 'bird', '1480', ['-bird-live']],
    ['bgp', 'Never', 'Never', 'bird', '1500', ['-bird-live']],
    ['vxlan', 'Never', 'Always', 'vxlan', '1450', []],
  ] as const)('%s: IPIP %s, VXLAN %s, backend %s, veth MTU %s', (mode, ipip, vxlan, backend, mtu, birdProbe) => {
    const r = render({ plugin: 'calico', calico: { mode } });
    expect(env(node(r))).toMatchObject({ CALICO_IPV4POOL_IPIP: ipip, CALICO_IPV4POOL_VXLAN: vxlan, CALICO_IPV4POOL_CIDR: '192.168.0.0/16', IP_AUTODETECTION_METHOD: 'kubernetes-internal-ip' });
    expect(config(r)).toMatchObject({ calico_backend: backend, veth_mtu: mtu });
    expect(node(r).livenessProbe.exec.command.slice(2)).toEqual(birdProbe);
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    expect(r.applies[0]!.crds).toHaveLength(24);
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
    const r = renderCni({ spec: s, hostMtu: 1500, template: readTemplate });
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
    const r = render({ ...terway, terway: { ...terway.terway, mode: 'eni' } });
    expect([r.mtu, r.needs]).toEqual([1500, []]);
    const s = spec({ plugin: 'terway', terway: { mode: 'eni' } });
    expect(cniNodeLabels(s, s.nodes[0]!)).toEqual({ 'k8s.aliyun.com/exclusive-mode-eni-type': 'eniOnly' });
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

  it('Terway with NetworkPolicy next to Calico: Calico CRDs come first and are waited for once each', () => {
    const r = render({ plugin: 'terway', hybrid: { externalPlugin: 'calico' } });
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    expect(r.applies[0]!.crds).toHaveLength(24);
    expect(new Set(r.applies[0]!.crds).size).toBe(24);
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
    expect(() => renderCni({ spec: spec({ plugin: 'calico' }), hostMtu: 1500, template })).toThrow(TemplateDriftError);
    expect(() => renderCni({ spec: spec({ plugin: 'calico' }), hostMtu: 1500, template })).toThrow(/calico-node has no env CALICO_IPV4POOL_IPIP/);
  });

  it('a renamed object or a JSON key the patch relies on is an error, not a silent skip', () => {
    const renamed = withTemplate('flannel/v0.28.9/kube-flannel.yaml', (t) => t.replace('name: kube-flannel-cfg\n  namespace', 'name: flannel-cfg\n  namespace'));
    expect(() => renderCni({ spec: spec({ plugin: 'flannel' }), hostMtu: 1500, template: renamed })).toThrow('template drift in flannel/v0.28.9/kube-flannel.yaml: no ConfigMap kube-flannel-cfg');
    const noPolicy = withTemplate('terway/v1.16.7/terway-eniip.yaml', (t) => t.replace('"vswitch_selection_policy": "ordered"', '"selection": "ordered"'));
    expect(() => renderCni({ spec: spec({ plugin: 'terway' }), hostMtu: 1500, template: noPolicy })).toThrow('eni_conf has no vswitch_selection_policy');
  });
});

describe('knit render with an AccessKey (the real binary)', () => {
  const SECRET = 'kNiT-TeSt-SeCrEt-9f8e7d6c5b4a';
  const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI5tKnitTestKeyId', ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET };
  const specText = JSON.stringify({
    kubernetes: { controlPlaneEndpoint: '10.0.0.10' },
    network: { plugin: 'terway', terway: { credentials: 'access-key' } },
    nodes: [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' }],
  });

  it('never prints the secret (text, JSON, dry-run), writes it only into cni.yaml (0600), and exits 4 without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knit-ak-'));
    const config = join(dir, 'cluster.yaml');
    await writeFile(config, specText);
    const runs = await Promise.all([
      knit(['render', '-f', config], { env }),
      knit(['-o', 'json', 'render', '-f', config], { env }),
      knit(['render', '-f', config, '--out', join(dir, 'out')], { env }),
      knit(['init', '-f', config, '--dry-run'], { env }),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
    }
    expect(runs[0]!.stdout).toContain('"access-key-secret": "');
    const cni = await readFile(join(dir, 'out', 'cni.yaml'), 'utf8');
    expect(cni).toContain(SECRET);
    expect((await stat(join(dir, 'out', 'cni.yaml'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'out', 'plan.txt'), 'utf8')).not.toContain(SECRET);

    const missing = await knit(['render', '-f', config], { env: {} });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('network.terway.credentials: access-key needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET');
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
      fc.record({ plugin: fc.constant('flannel' as const), flannel: fc.record({ backend: fc.constantFrom('vxlan', 'host-gw', 'wireguard'), vni: fc.integer({ min: 1, max: 16777215 }), port: fc.integer({ min: 1024, max: 65535 }), directRouting: fc.boolean() }) }),
      fc.record({
        plugin: fc.constant('calico' as const),
        calico: fc.record({ mode: fc.constantFrom('ipip', 'crosssubnet', 'bgp', 'vxlan'), asNumber: fc.integer({ min: 1, max: 4294967295 }), nodeToNodeMesh: fc.boolean(), ipAutodetectionMethod: fc.constantFrom('kubernetes-internal-ip', 'can-reach=10.0.0.1', 'interface=eth0') }),
      }),
      fc.record({
        plugin: fc.constant('terway' as const),
        terway: fc.record({ mode: fc.constantFrom('eniip', 'eni'), networkPolicy: fc.boolean(), vswitchSelectionPolicy: fc.constantFrom('ordered', 'random'), maxPoolSize: fc.integer({ min: 5, max: 50 }) }),
        hybrid: fc.option(fc.record({ externalPlugin: fc.constantFrom('flannel', 'calico') }), { nil: undefined }),
      }),
    );
    const extra = fc.record({ mirror: fc.constantFrom('none', 'cn'), registry: fc.option(fc.constantFrom('registry.example.com', 'localhost:5000/k8s'), { nil: undefined }), hostMtu: fc.constantFrom(1500, 1450, 9000) });
    await fc.assert(
      fc.asyncProperty(network, extra, async (net, { mirror, registry, hostMtu }) => {
        const s = spec(net as SpecInput['network'], { mirror: mirror as 'none' | 'cn', ...(registry ? { imageRegistry: registry } : {}) });
        const r = renderCni({ spec: s, hostMtu, template: readTemplate });
        const yaml = r.applies.map((a) => a.yaml).join('---\n');
        expect(await validateManifest(yaml)).toEqual([]);
        if (registry) expect(r.images().every((i) => i.startsWith(`${registry}/`))).toBe(true);
        const cidrs = objects(r).flatMap((o) => (o.kind === 'ConfigMap' && o.data?.['net-conf.json'] ? [JSON.parse(o.data['net-conf.json']).Network] : []));
        for (const c of cidrs) expect(c).toBe(s.kubernetes.podSubnet);
        expect(r.mtu).toBeLessThanOrEqual(hostMtu);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
