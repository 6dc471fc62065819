/**
 * Rendered kubeadm configurations use only real fields of their API version (field lists built from
 * the kubeadm, kubelet and kube-proxy Go types: test/fixtures/kubeadm-api/SOURCES.md).
 */
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fillJoinConfiguration, renderInitConfig, renderJoinConfig } from '../src/kubeadm/render.js';
import { loadSpec } from '../src/spec/load.js';
import { validateKubeadmConfig } from './helpers/kubeadm-schema.mjs';

const specFor = (version: string, extra: Record<string, unknown> = {}) =>
  loadSpec({
    file: {
      name: 't.yaml',
      text: JSON.stringify({
        kubernetes: { version, controlPlaneEndpoint: '203.0.113.10' },
        nodes: [
          { name: 'cp-1', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '203.0.113.10' },
          { name: 'cp-2', role: 'control-plane', privateIP: '172.16.0.11', publicIP: '203.0.113.11' },
          { name: 'w-1', role: 'worker', privateIP: '172.17.0.20', publicIP: '198.51.100.20' },
        ],
        ...extra,
      }),
    },
    hostname: 'h',
  }).spec;

const kubeadmVersion = (v: string) => v.split('.').slice(0, 2).join('.');
const SECRETS = { token: 'abcdef.0123456789abcdef', caCertHash: `sha256:${'a'.repeat(64)}`, certificateKey: 'b'.repeat(64) };

describe('rendered kubeadm configuration', () => {
  it.each(['1.28.15', '1.30.6', '1.31.0', '1.32.4', '1.34.2', '1.35.0'])('Kubernetes %s: init config has only real fields', (version) => {
    const spec = specFor(version);
    const text = renderInitConfig(spec, spec.nodes[0]!);
    const result = validateKubeadmConfig(text, { kubeadmVersion: kubeadmVersion(version) });
    expect(result.errors).toEqual([]);
    const expected = Number(version.split('.')[1]) >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
    expect(result.documents.filter((d) => d.apiVersion.startsWith('kubeadm')).map((d) => d.apiVersion)).toEqual([expected, expected]);
  });

  it.each(['1.30.6', '1.32.4'])('Kubernetes %s: filled join configs (worker and control plane) have only real fields', (version) => {
    const spec = specFor(version);
    for (const node of spec.nodes.slice(1)) {
      const filled = fillJoinConfiguration(renderJoinConfig(spec, node), SECRETS);
      expect(validateKubeadmConfig(filled, { kubeadmVersion: kubeadmVersion(version) }).errors).toEqual([]);
      const join = parseAllDocuments(filled)[0]!.toJS();
      expect(join.discovery.bootstrapToken).toEqual({ apiServerEndpoint: '203.0.113.10:6443', token: SECRETS.token, caCertHashes: [SECRETS.caCertHash] });
      expect(join.controlPlane?.certificateKey).toBe(node.role === 'control-plane' ? SECRETS.certificateKey : undefined);
    }
  });

  it('the validator would catch the classic mistake: v1beta3-style extraArgs in v1beta4', () => {
    const spec = specFor('1.32.4');
    const broken = renderInitConfig(spec, spec.nodes[0]!).replace(/kubeletExtraArgs:\n\s+- name: node-ip\n\s+value: (\S+)/, 'kubeletExtraArgs:\n    node-ip: $1');
    expect(validateKubeadmConfig(broken).errors.join('\n')).toMatch(/kubeletExtraArgs/);
  });

  it("the apiserver certificate's SANs: the endpoint host, every control plane's private and public IP and name, and the extra certSANs", () => {
    const spec = specFor('1.32.4', { kubernetes: { version: '1.32.4', controlPlaneEndpoint: 'api.example.com:6443', certSANs: ['k8s.example.com', '*.k8s.example.com', '192.0.2.7'] } });
    const init = parseAllDocuments(renderInitConfig(spec, spec.nodes[0]!)).map((d) => d.toJS());
    const sans: string[] = init.find((d) => d.kind === 'ClusterConfiguration').apiServer.certSANs;
    expect(new Set(sans)).toEqual(
      new Set(['api.example.com', '172.16.0.10', '203.0.113.10', 'cp-1', '172.16.0.11', '203.0.113.11', 'cp-2', 'k8s.example.com', '*.k8s.example.com', '192.0.2.7']),
    );
    expect(sans).toHaveLength(new Set(sans).size); // each once
    // a worker's addresses are not the apiserver's
    expect(sans).not.toContain('172.17.0.20');
    expect(sans).not.toContain('198.51.100.20');
  });

  it('a join config refuses to be filled without its certificate key on a control plane', () => {
    const spec = specFor('1.32.4');
    expect(() => fillJoinConfiguration(renderJoinConfig(spec, spec.nodes[1]!), { token: SECRETS.token, caCertHash: SECRETS.caCertHash })).toThrow(/certificate key/);
  });

  it('any valid spec renders a config kubeadm accepts', () => {
    const arb = fc.record({
      minor: fc.integer({ min: 28, max: 35 }),
      patch: fc.integer({ min: 0, max: 20 }),
      cni: fc.constantFrom('flannel', 'calico', 'terway'),
      mirror: fc.constantFrom('none', 'cn'),
      registry: fc.constantFrom(undefined, 'registry.example.com:5000/mirror'),
      sans: fc.array(fc.constantFrom('k8s.example.com', '192.0.2.7'), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(arb, ({ minor, patch, cni, mirror, registry, sans }) => {
        const version = `1.${minor}.${patch}`;
        const spec = specFor(version, { network: { plugin: cni }, mirror, ...(registry ? { imageRegistry: registry } : {}) });
        spec.kubernetes.certSANs.push(...sans);
        const result = validateKubeadmConfig(renderInitConfig(spec, spec.nodes[0]!), { kubeadmVersion: `1.${minor}` });
        expect(result.errors).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

/** The image kubeadm pulls for CoreDNS (cmd/kubeadm/app/images GetDNSImage), from a rendered ClusterConfiguration. */
function kubeadmDnsImage(text: string): string {
  const cluster = parseAllDocuments(text).map((d) => d.toJS()).find((d) => d.kind === 'ClusterConfiguration');
  let repo: string = cluster.dns?.imageRepository ?? cluster.imageRepository;
  if (repo === 'registry.k8s.io') repo = `${repo}/coredns`; // kubeadm's rename, for its default repository only
  return `${repo}/coredns`;
}

describe('CoreDNS image repository', () => {
  it.each(['1.30.6', '1.34.2'])('Kubernetes %s with imageRegistry R: dns.imageRepository R/coredns, so CoreDNS keeps its upstream path', (version) => {
    const spec = specFor(version, { imageRegistry: 'registry.example.com:5000/mirror' });
    const text = renderInitConfig(spec, spec.nodes[0]!);
    expect(validateKubeadmConfig(text, { kubeadmVersion: kubeadmVersion(version) }).errors).toEqual([]);
    const cluster = parseAllDocuments(text)[1]!.toJS();
    expect(cluster).toMatchObject({ imageRepository: 'registry.example.com:5000/mirror', dns: { imageRepository: 'registry.example.com:5000/mirror/coredns' } });
    // registry.k8s.io/coredns/coredns mirrored under R keeps its path, as knit's CNI images do
    expect(kubeadmDnsImage(text)).toBe('registry.example.com:5000/mirror/coredns/coredns');
  });

  it('mirror cn and the default registry leave CoreDNS to kubeadm (google_containers/coredns; registry.k8s.io/coredns/coredns)', () => {
    for (const [extra, image] of [
      [{ mirror: 'cn' }, 'registry.cn-hangzhou.aliyuncs.com/google_containers/coredns'],
      [{}, 'registry.k8s.io/coredns/coredns'],
    ] as const) {
      const text = renderInitConfig(specFor('1.34.2', extra), specFor('1.34.2', extra).nodes[0]!);
      expect(parseAllDocuments(text)[1]!.toJS().dns).toBeUndefined();
      expect(kubeadmDnsImage(text)).toBe(image);
    }
  });

  it('an explicit kubernetes.imageRepository is kubeadm layout: knit adds no dns override', () => {
    const spec = specFor('1.34.2', { imageRegistry: 'registry.example.com/mirror', kubernetes: { version: '1.34.2', controlPlaneEndpoint: '203.0.113.10', imageRepository: 'harbor.example.com/k8s' } });
    const cluster = parseAllDocuments(renderInitConfig(spec, spec.nodes[0]!))[1]!.toJS();
    expect(cluster.imageRepository).toBe('harbor.example.com/k8s');
    expect(cluster.dns).toBeUndefined();
  });
});

/** The KubeProxyConfiguration of a rendered init config. */
const kubeProxyOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS()).find((d) => d.kind === 'KubeProxyConfiguration');

describe('kube-proxy: which traffic is from local pods (not masqueraded on its way to a Service)', () => {
  it('flannel and calico: pod IPs come from podSubnet, the ClusterCIDR rule', () => {
    for (const cni of ['flannel', 'calico']) {
      const spec = specFor('1.34.2', { network: { plugin: cni } });
      const kp = kubeProxyOf(renderInitConfig(spec, spec.nodes[0]!));
      expect(kp.clusterCIDR).toBe(spec.kubernetes.podSubnet);
      expect(kp.detectLocalMode).toBeUndefined();
    }
  });

  it.each([
    ['eniip', {}],
    ['eni', { alicloud: { vpcId: 'vpc-test' } }],
    ['eniip, hybrid with external calico', { network: { plugin: 'terway', hybrid: { externalPlugin: 'calico' } } }],
    ['eniip, hybrid with external flannel', { network: { plugin: 'terway', hybrid: { externalPlugin: 'flannel' } } }],
  ] as const)('terway %s: pod IPs come from the vSwitches, so the rule is the host veth prefix cali, not a CIDR', (mode, extra) => {
    const spec = specFor('1.28.15', { network: { plugin: 'terway', terway: { mode: mode === 'eni' ? 'eni' : 'eniip' } }, ...extra });
    const text = renderInitConfig(spec, spec.nodes[0]!);
    // real v1alpha1 fields (detectLocalMode since Kubernetes 1.23), for the oldest version knit supports
    expect(validateKubeadmConfig(text, { kubeadmVersion: '1.28' }).errors).toEqual([]);
    const kp = kubeProxyOf(text);
    expect(kp).toMatchObject({ mode: 'iptables', detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'cali' } });
    // kube-proxy reads clusterCIDR only in ClusterCIDR mode: knit writes none that could mislead
    expect(kp.clusterCIDR).toBeUndefined();
  });
});
