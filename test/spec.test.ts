import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { closestKey, loadSpec, stringifySpec, type SpecFlags } from '../src/spec/load.js';
import { cidrsOverlap, parseCidr } from '../src/spec/net.js';
import { CNI_PLUGINS } from '../src/spec/schema.js';

/** One line naming the field first, as test/spec-fuzz.test.ts holds every error to (copied: importing a test file runs its tests). */
const FIELD_LINE = /^(spec|[a-zA-Z]+(\.[a-zA-Z]+|\[\d+\])*)( \(--[a-z0-9-]+\))?: \S.*$/;

const crossVpcFile = `
apiVersion: knit/v1alpha1
kind: Cluster
kubernetes: { version: "1.32.4", controlPlaneEndpoint: "203.0.113.10:6443", podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12, imageRepository: registry.k8s.io }
network: { plugin: flannel }
nodes:
  - { name: master-1, role: control-plane, privateIP: 172.16.0.10, publicIP: 203.0.113.10 }
  - { name: worker-1, role: worker, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }
`;

const load = (flags: SpecFlags = {}, text?: string) =>
  loadSpec({ file: text === undefined ? undefined : { name: 'cluster.yaml', text }, flags, hostname: 'Host-1' });

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('loading the cluster spec', () => {
  it('reads a JSON spec (JSON is YAML) to the same spec, and says where a broken one is wrong', async () => {
    const { parse } = await import('yaml');
    const json = JSON.stringify(parse(crossVpcFile), null, 2);
    expect(load({}, json).spec).toEqual(load({}, crossVpcFile).spec);
    expect(errorOf(() => load({}, json.replace('"network":', '"network"')))).toMatch(/^cluster\.yaml:\d+:\d+: /);
  });

  it('reads the issue example and applies defaults', () => {
    const { spec, localNode } = load({}, crossVpcFile);
    expect(localNode).toBe('master-1');
    expect(spec.kubernetes).toMatchObject({ version: '1.32.4', dnsDomain: 'cluster.local', criSocket: 'unix:///var/run/containerd/containerd.sock' });
    expect(spec.network.flannel).toEqual({ backend: 'vxlan', vni: 1, port: 8472, directRouting: false });
    expect(spec.nodes[1]).toEqual({ name: 'worker-1', role: 'worker', privateIP: '172.17.0.20', publicIP: '198.51.100.20' });
  });

  it('lets flags override the file and picks the local node by --node-name', () => {
    const { spec, localNode } = load({ nodeName: 'worker-1', publicIp: '198.51.100.99', k8sVersion: '1.30.2', cni: 'calico' }, crossVpcFile);
    expect(localNode).toBe('worker-1');
    expect(spec.nodes[1]!.publicIP).toBe('198.51.100.99');
    expect(spec.kubernetes.version).toBe('1.30.2');
    expect(spec.network.plugin).toBe('calico');
    expect(spec.kubernetes.podSubnet).toBe('10.244.0.0/16'); // the file's value wins over the calico default
  });

  it('builds a one-node spec from flags alone, named after the host, endpoint from the public IP', () => {
    const { spec, localNode } = load({ publicIp: '203.0.113.10', advertiseAddress: '172.16.0.10' });
    expect(localNode).toBe('host-1');
    expect(spec.nodes).toEqual([{ name: 'host-1', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '203.0.113.10' }]);
    expect(spec.kubernetes.controlPlaneEndpoint).toBe('203.0.113.10:6443');
  });

  it.each([
    ['flannel', '10.244.0.0/16'],
    ['calico', '192.168.0.0/16'],
  ])('defaults the pod CIDR for %s to %s', (cni, cidr) => {
    expect(load({ advertiseAddress: '172.16.0.10', cni }).spec.kubernetes.podSubnet).toBe(cidr);
  });

  it('--mirror cn switches the image repository unless one is given', () => {
    expect(load({ advertiseAddress: '172.16.0.10', mirror: 'cn' }).spec.kubernetes.imageRepository).toBe(
      'registry.cn-hangzhou.aliyuncs.com/google_containers',
    );
    expect(load({ advertiseAddress: '172.16.0.10', mirror: 'cn', imageRepository: 'reg.example.com/k8s' }).spec.kubernetes.imageRepository).toBe(
      'reg.example.com/k8s',
    );
  });

  it('round-trips through the saved config file', () => {
    const { spec } = load({}, crossVpcFile);
    expect(load({}, stringifySpec(spec)).spec).toEqual(spec);
  });
});

describe('bad input gets one line naming the field', () => {
  const base: SpecFlags = { advertiseAddress: '172.16.0.10', publicIp: '203.0.113.10' };
  it.each<[string, SpecFlags, string]>([
    ['overlapping pod and service networks', { podCidr: '10.96.0.0/16' }, 'kubernetes.podSubnet (--pod-cidr): 10.96.0.0/16 overlaps kubernetes.serviceSubnet 10.96.0.0/12'],
    ['a malformed CIDR', { serviceCidr: '10.96.0.0/33' }, 'kubernetes.serviceSubnet (--service-cidr): "10.96.0.0/33" is not an IPv4 CIDR (a.b.c.d/n)'],
    ['a CIDR with host bits', { podCidr: '10.244.1.0/16' }, 'kubernetes.podSubnet (--pod-cidr): 10.244.1.0/16 has host bits set; did you mean 10.244.0.0/16?'],
    ['a service range larger than /12', { serviceCidr: '10.0.0.0/8' }, 'kubernetes.serviceSubnet (--service-cidr): 10.0.0.0/8 is larger than /12, the most the apiserver allows'],
    ['a pod network smaller than a node block', { podCidr: '10.244.0.0/25' }, 'kubernetes.podSubnet (--pod-cidr): 10.244.0.0/25 is smaller than the /24 each node is given'],
    ['a private address as public IP', { publicIp: '192.168.1.5' }, 'nodes[0].publicIP (--public-ip): 192.168.1.5 is a private or reserved address; a public IP is required'],
    ['a malformed IP', { advertiseAddress: '172.16.0.300' }, 'nodes[0].privateIP (--advertise-address): "172.16.0.300" is not an IPv4 address'],
    ['an unknown CNI', { cni: 'weave' }, `network.plugin (--cni): unknown CNI "weave" (choose ${CNI_PLUGINS.join(', ')})`],
    ['an unsupported Kubernetes version', { k8sVersion: '1.22.0' }, 'kubernetes.version (--k8s-version): Kubernetes 1.22.0 is not supported (knit supports 1.28 to 1.35)'],
    ['a port out of range', { controlPlaneEndpoint: '203.0.113.10:70000' }, 'kubernetes.controlPlaneEndpoint (--control-plane-endpoint): port 70000 is out of range (1-65535)'],
    ['a node IP inside the pod network', { advertiseAddress: '10.244.3.4' }, 'nodes[0].privateIP (--advertise-address): 10.244.3.4 lies inside kubernetes.podSubnet 10.244.0.0/16'],
    ['a missing private IP', { advertiseAddress: undefined }, "nodes[0].privateIP (--advertise-address): is required (this node's private IP, the address on its NIC)"],
  ])('%s', (_, flags, message) => {
    expect(errorOf(() => load({ ...base, ...flags }))).toBe(message);
  });

  it('names duplicate nodes and duplicate IPs', () => {
    const dupName = crossVpcFile.replace('name: worker-1', 'name: master-1');
    expect(errorOf(() => load({}, dupName))).toBe('nodes[1].name: master-1 is also the name of nodes[0]');
    const dupIp = crossVpcFile.replace('172.17.0.20', '172.16.0.10');
    expect(errorOf(() => load({}, dupIp))).toBe('nodes[1].privateIP: 172.16.0.10 is also nodes[0].privateIP');
  });

  it('names unknown fields and YAML syntax errors with their position', () => {
    expect(errorOf(() => load({}, crossVpcFile.replace('network: { plugin: flannel }', 'network: { plugin: flannel, vni: 4 }')))).toBe('network: unknown field vni');
    expect(errorOf(() => load({}, 'kubernetes: [\n'))).toMatch(/^cluster\.yaml:\d+:\d+: /);
  });
});

describe('the control-plane endpoint: given, else the first control plane\'s public IP, else its private IP in one VPC', () => {
  const nodes = (...lines: string[]) => `nodes:\n${lines.map((l) => `  - ${l}\n`).join('')}`;

  it('defaults to the first control plane\'s public IP, and says nothing', () => {
    const { spec, notes } = load({ advertiseAddress: '172.16.0.10', publicIp: '203.0.113.10' });
    expect([spec.kubernetes.controlPlaneEndpoint, notes]).toEqual(['203.0.113.10:6443', []]);
  });

  it('an endpoint given wins over both addresses', () => {
    const { spec, notes } = load({ advertiseAddress: '172.16.0.10', controlPlaneEndpoint: 'api.example.com:443' });
    expect([spec.kubernetes.controlPlaneEndpoint, notes]).toEqual(['api.example.com:443', []]);
  });

  it('without a public IP, the private IP when every node shares its VPC (one node; one /24; one vpc label), and says so', () => {
    const single = load({ advertiseAddress: '172.16.0.10' });
    expect(single.spec.kubernetes.controlPlaneEndpoint).toBe('172.16.0.10:6443');
    expect(single.notes).toEqual([
      "kubernetes.controlPlaneEndpoint defaults to 172.16.0.10:6443, host-1's private IP: host-1 has no public IP and every node is in its VPC (for nodes in other VPCs, give --public-ip or --control-plane-endpoint)",
    ]);
    const subnet = load({}, nodes('{ name: cp, role: control-plane, privateIP: 172.16.0.10 }', '{ name: w, privateIP: 172.16.0.20 }'));
    expect(subnet.spec.kubernetes.controlPlaneEndpoint).toBe('172.16.0.10:6443');
    const labelled = load({}, nodes('{ name: cp, role: control-plane, privateIP: 172.16.0.10, vpc: a }', '{ name: w, privateIP: 172.17.0.20, vpc: a }'));
    expect(labelled.spec.kubernetes.controlPlaneEndpoint).toBe('172.16.0.10:6443');
    expect(labelled.notes).toHaveLength(1);
  });

  it('without a public IP and with a node in another VPC there is no default: the error says why', () => {
    const text = nodes('{ name: cp, role: control-plane, privateIP: 172.16.0.10 }', '{ name: w1, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }', '{ name: w2, privateIP: 172.18.0.20, publicIP: 198.51.100.21 }');
    expect(errorOf(() => load({}, text))).toBe(
      'kubernetes.controlPlaneEndpoint (--control-plane-endpoint): not given, and there is no default: cp has no public IP (--public-ip), ' +
        'and w1, w2 are in other VPCs, which cannot reach its private IP without one',
    );
    // run on a worker: cp's public IP is not this node's --public-ip
    expect(errorOf(() => load({ nodeName: 'w1' }, text))).toMatch(/: cp has no public IP, and w1, w2 are in other VPCs/);
  });

  it('with nothing given, one line names both missing values, this node\'s address first', () => {
    const message = errorOf(() => load({}));
    expect(message).toBe(
      "nodes[0].privateIP (--advertise-address): is required (this node's private IP, the address on its NIC); " +
        "kubernetes.controlPlaneEndpoint (--control-plane-endpoint): not given, and there is no default: it would be host-1's public IP (--public-ip), or its private IP when every node is in its VPC",
    );
    expect(message).toMatch(FIELD_LINE);
  });

  it('an endpoint alone, or a public IP alone: the private IP is what is missing, and only that', () => {
    const missingAddress = "nodes[0].privateIP (--advertise-address): is required (this node's private IP, the address on its NIC)";
    expect(errorOf(() => load({ controlPlaneEndpoint: '203.0.113.10' }))).toBe(missingAddress);
    expect(errorOf(() => load({ publicIp: '203.0.113.10' }))).toBe(missingAddress);
  });

  it('a bad public IP is reported as itself, not as a missing endpoint (also from a file)', () => {
    expect(errorOf(() => load({ publicIp: '10.1.1.1' }))).toBe('nodes[0].publicIP (--public-ip): 10.1.1.1 is a private or reserved address; a public IP is required');
    expect(errorOf(() => load({}, nodes('{ name: cp, role: control-plane, privateIP: 172.16.0.10, publicIP: 10.1.1.1 }')))).toBe(
      'nodes[0].publicIP: 10.1.1.1 is a private or reserved address; a public IP is required',
    );
  });
});

/** A spec file of one control plane and one worker, with `extra` merged at the top (JSON is YAML). */
const specWith = (extra: Record<string, unknown>, nodeExtra: Record<string, unknown> = {}) =>
  JSON.stringify({
    kubernetes: { controlPlaneEndpoint: '203.0.113.10' },
    nodes: [
      { name: 'cp-1', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '203.0.113.10', ...nodeExtra },
      { name: 'w-1', privateIP: '172.16.0.20' },
    ],
    ...extra,
  });
const loadWith = (extra: Record<string, unknown>, nodeExtra?: Record<string, unknown>) => load({}, specWith(extra, nodeExtra)).spec;
const errorWith = (extra: Record<string, unknown>, nodeExtra?: Record<string, unknown>) => errorOf(() => load({}, specWith(extra, nodeExtra)));
const kube = (k: Record<string, unknown>) => ({ kubernetes: { controlPlaneEndpoint: '203.0.113.10', ...k } });
const calico = (c: Record<string, unknown>, network: Record<string, unknown> = { plugin: 'calico' }) => ({ network: { ...network, calico: c } });

describe('free-text fields are held to their grammar (exit 2 naming the field)', () => {
  it('kubernetes.imageRepository: a registry host[:port]/path, nothing else', () => {
    expect(loadWith(kube({ imageRepository: 'registry.cn-hangzhou.aliyuncs.com/google_containers' })).kubernetes.imageRepository).toBe(
      'registry.cn-hangzhou.aliyuncs.com/google_containers',
    );
    expect(loadWith(kube({ imageRepository: 'localhost:5000/k8s' })).kubernetes.imageRepository).toBe('localhost:5000/k8s');
    for (const bad of ['', '   ', '$(touch /tmp/x);rm -rf /', 'registry.k8s.io/a b', 'Registry.example.com'])
      expect(errorWith(kube({ imageRepository: bad }))).toMatch(/^kubernetes\.imageRepository: must be a registry such as registry\.k8s\.io /);
    expect(errorWith(kube({ imageRepository: 'localhost:99999/k8s' }))).toBe('kubernetes.imageRepository: port must be between 1 and 65535');
    expect(errorOf(() => load({ advertiseAddress: '172.16.0.10', imageRepository: '$(touch /tmp/x);rm -rf /' }))).toMatch(
      /^kubernetes\.imageRepository \(--image-repository\): must be a registry/,
    );
  });

  it('kubernetes.criSocket: unix:// and an absolute path of safe characters; a bare path gets the scheme, as kubeadm does', () => {
    expect(loadWith(kube({ criSocket: 'unix:///run/crio/crio.sock' })).kubernetes.criSocket).toBe('unix:///run/crio/crio.sock');
    expect(loadWith(kube({ criSocket: '/run/containerd/containerd.sock' })).kubernetes.criSocket).toBe('unix:///run/containerd/containerd.sock');
    for (const bad of ['unix:///run/x.sock;rm -rf /', 'unix://run/x.sock', 'tcp://10.0.0.1:1234', 'unix:///run/../etc/shadow', 'unix:///run/x sock', '', 'unix:///run/x.sock\n'])
      expect(errorWith(kube({ criSocket: bad }))).toBe(
        `kubernetes.criSocket: ${JSON.stringify(bad)} is not a socket such as unix:///run/containerd/containerd.sock (an absolute path of letters, digits, ".", "-", "_")`,
      );
  });

  it('kubernetes.certSANs: each a DNS name (a *. wildcard allowed) or an IP address', () => {
    const sans = ['k8s.example.com', '*.k8s.example.com', '192.0.2.7', '2001:db8::1', 'localhost'];
    expect(loadWith(kube({ certSANs: sans })).kubernetes.certSANs).toEqual(sans);
    for (const [i, bad] of ['k8s example.com', 'k8s.example.com\nevil.com', 'K8S.example.com', 'a_b.example.com', '*.', 'a.*.example.com', '', '192.0.2.7/32'].entries())
      expect(errorWith(kube({ certSANs: ['ok.example.com', bad] })), `#${i}`).toBe(
        `kubernetes.certSANs[1]: ${JSON.stringify(bad)} is not a DNS name (optionally *.-prefixed) or an IP address`,
      );
  });

  it("network.calico.ipAutodetectionMethod: calico-node's methods only", () => {
    for (const ok of ['first-found', 'kubernetes-internal-ip', 'can-reach=10.0.0.1', 'can-reach=www.example.com', 'interface=eth0', 'interface=eth.*,ens[0-9]+',
      'skip-interface=docker.*', 'cidr=10.0.0.0/8', 'cidr=10.0.0.0/8,172.16.0.0/12'])
      expect(loadWith(calico({ ipAutodetectionMethod: ok })).network.calico.ipAutodetectionMethod).toBe(ok);
    for (const bad of ['', 'eth0', 'first-found ', 'interface=', 'interface=eth0; rm -rf /', 'interface=(', 'interface=eth0,,eth1', 'can-reach=',
      'can-reach=a b', 'cidr=10.0.0.0/33', 'cidr=10.0.0.0', 'kubernetes-internal-ip\n', 'bogus=1'])
      expect(errorWith(calico({ ipAutodetectionMethod: bad }))).toMatch(/^network\.calico\.ipAutodetectionMethod: ".*" is not a calico autodetection method \(first-found, /);
  });

  it('nodes[].vpc: a label value; a trailing newline is refused ($ in a JS regex without the m flag is the end of input)', () => {
    expect(loadWith({}, { vpc: 'vpc-bp1abc' }).nodes[0]!.vpc).toBe('vpc-bp1abc');
    for (const bad of ['vpc-a\n', '\nvpc-a', 'vpc a', 'vpc-a;', '-vpc'])
      expect(errorWith({}, { vpc: bad })).toMatch(/^nodes\[0\]\.vpc: must be a label value/);
  });

  it('alicloud.endpoint and vpcEndpoint: a port is 1-65535', () => {
    const ok = loadWith({ alicloud: { endpoint: 'ecs.example.com:65535', vpcEndpoint: 'https://vpc.example.com:1/' } });
    expect(ok.alicloud).toEqual({ endpoint: 'ecs.example.com:65535', vpcEndpoint: 'https://vpc.example.com:1/' });
    expect(errorWith({ alicloud: { endpoint: 'ecs.example.com:99999' } })).toBe('alicloud.endpoint: port must be between 1 and 65535');
    expect(errorWith({ alicloud: { vpcEndpoint: 'http://vpc.example.com:0' } })).toBe('alicloud.vpcEndpoint: port must be between 1 and 65535');
    expect(errorWith({ alicloud: { endpoint: 'ecs.example.com:80;rm' } })).toMatch(/^alicloud\.endpoint: must be HOST\[:PORT\]/);
  });

  it('network.calico.routeReflectors: node names, of nodes in the spec', () => {
    expect(errorWith(calico({ routeReflectors: ['cp 1'] }))).toBe('network.calico.routeReflectors[0]: must be a lowercase DNS-1123 name (a-z, 0-9, "-", ".")');
    expect(errorWith(calico({ routeReflectors: ['cp-1', 'cp-9'] }))).toBe('network.calico.routeReflectors[1]: cp-9 is not the name of a node in nodes');
    expect(loadWith(calico({ routeReflectors: ['cp-1'] })).network.calico.routeReflectors).toEqual(['cp-1']);
  });
});

describe('Calico BGP settings that cannot exchange routes are refused', () => {
  const noRoutes = /^network\.calico\.nodeToNodeMesh: false with no routeReflectors and no peers: in (ipip|crosssubnet|bgp) mode the nodes would exchange no routes/;
  it.each(['ipip', 'crosssubnet', 'bgp'])('mode %s: no mesh, no route reflector, no peer', (mode) => {
    expect(errorWith(calico({ mode, nodeToNodeMesh: false }))).toMatch(noRoutes);
    // a hybrid cluster's external nodes run calico too
    expect(errorWith(calico({ mode, nodeToNodeMesh: false }, { plugin: 'terway', hybrid: { externalPlugin: 'calico' } }))).toMatch(noRoutes);
    expect(errorWith(calico({ mode, routeReflectors: ['cp-9'] }, { plugin: 'terway', hybrid: { externalPlugin: 'calico' } }))).toBe(
      'network.calico.routeReflectors[0]: cp-9 is not the name of a node in nodes',
    );
  });

  it('a route reflector or a BGP peer carries the routes without the mesh', () => {
    expect(loadWith(calico({ mode: 'bgp', nodeToNodeMesh: false, routeReflectors: ['cp-1'] })).network.calico.nodeToNodeMesh).toBe(false);
    expect(loadWith(calico({ mode: 'bgp', nodeToNodeMesh: false, peers: [{ ip: '10.0.0.1', asNumber: 64500 }] })).network.calico.nodeToNodeMesh).toBe(false);
  });

  it('vxlan mode runs no BIRD (Felix programs the routes): the BGP settings are unused, and accepted', () => {
    expect(loadWith(calico({ mode: 'vxlan', nodeToNodeMesh: false })).network.calico.mode).toBe('vxlan');
  });

  it('the calico settings do not matter when calico is not the plugin in use', () => {
    expect(loadWith(calico({ nodeToNodeMesh: false }, { plugin: 'flannel' })).network.plugin).toBe('flannel');
    expect(loadWith(calico({ routeReflectors: ['cp-9'] }, { plugin: 'terway', hybrid: { externalPlugin: 'flannel' } })).network.plugin).toBe('terway');
  });
});

describe('pod and service subnets', () => {
  it('cidrsOverlap holds in both directions, at different bases', () => {
    const [wide, narrow, apart] = [parseCidr('10.0.0.0/8')!, parseCidr('10.96.0.0/12')!, parseCidr('172.16.0.0/12')!];
    expect([cidrsOverlap(wide, narrow), cidrsOverlap(narrow, wide)]).toEqual([true, true]);
    expect([cidrsOverlap(wide, apart), cidrsOverlap(apart, wide)]).toEqual([false, false]);
  });

  it('a pod subnet containing the service subnet, and one inside it, are refused', () => {
    expect(errorWith(kube({ podSubnet: '10.0.0.0/8', serviceSubnet: '10.96.0.0/12' }))).toBe('kubernetes.podSubnet: 10.0.0.0/8 overlaps kubernetes.serviceSubnet 10.96.0.0/12');
    expect(errorWith(kube({ podSubnet: '10.100.0.0/16', serviceSubnet: '10.96.0.0/12' }))).toBe('kubernetes.podSubnet: 10.100.0.0/16 overlaps kubernetes.serviceSubnet 10.96.0.0/12');
  });

  it('a service subnet over the CNI\'s default pod subnet blames the service subnet, the field the user wrote', () => {
    expect(errorOf(() => load({ advertiseAddress: '172.16.0.10', serviceCidr: '10.240.0.0/12' }))).toBe(
      "kubernetes.serviceSubnet (--service-cidr): 10.240.0.0/12 overlaps kubernetes.podSubnet 10.244.0.0/16 (flannel's default)",
    );
    expect(errorWith({ ...kube({ serviceSubnet: '192.168.0.0/16' }), network: { plugin: 'calico' } })).toBe(
      "kubernetes.serviceSubnet: 192.168.0.0/16 overlaps kubernetes.podSubnet 192.168.0.0/16 (calico's default)",
    );
    // 10.0.0.0/8 as the service subnet: first of all too large for the apiserver
    expect(errorWith(kube({ serviceSubnet: '10.0.0.0/8' }))).toBe('kubernetes.serviceSubnet: 10.0.0.0/8 is larger than /12, the most the apiserver allows');
  });

  it('a /24 pod subnet (one node block) loads; a /25 does not', () => {
    expect(loadWith(kube({ podSubnet: '10.244.0.0/24' })).kubernetes.podSubnet).toBe('10.244.0.0/24');
    expect(errorWith(kube({ podSubnet: '10.244.0.0/25' }))).toBe('kubernetes.podSubnet: 10.244.0.0/25 is smaller than the /24 each node is given');
  });
});

describe('messages that say what is wrong', () => {
  it('a misspelt key is named, with the key it likely meant, in any object', () => {
    expect(errorWith({}, { privateIp: '172.16.0.10' })).toBe('nodes[0]: unknown field privateIp; did you mean privateIP?');
    expect(errorWith({ network: { plugin: 'calico', calico: { nodeToNodeMech: false } } })).toBe('network.calico: unknown field nodeToNodeMech; did you mean nodeToNodeMesh?');
    expect(errorWith({ kuberentes: {} })).toBe('spec: unknown field kuberentes; did you mean kubernetes?');
    expect(errorWith({ network: { plugin: 'calico', calico: { peers: [{ ip: '10.0.0.1', asnumber: 1 }] } } })).toMatch(
      /^network\.calico\.peers\[0\]: unknown field asnumber; did you mean asNumber\?/,
    );
    expect(errorWith({ widget: 1 })).toBe('spec: unknown field widget');
    expect(errorWith({ 'wid\nget': 1 })).toBe('spec: unknown field "wid\\nget"');
    expect(closestKey('podsubnet', ['podSubnet', 'serviceSubnet'])).toBe('podSubnet');
    expect(closestKey('zzz', ['podSubnet'])).toBeUndefined();
  });

  it('an unquoted version is a YAML number: the message shows it as written and asks for quotes', () => {
    const file = (v: string) => `kubernetes: { version: ${v}, controlPlaneEndpoint: 203.0.113.10 }\nnodes: [{ name: cp-1, role: control-plane, privateIP: 172.16.0.10 }]\n`;
    expect(errorOf(() => load({}, file('1.32')))).toBe('kubernetes.version: 1.32 is a number; write a full version in quotes, such as "1.34.2"');
    expect(errorOf(() => load({}, file('1.30')))).toBe('kubernetes.version: 1.30 is a number (read as 1.3); write a full version in quotes, such as "1.34.2"');
    // JSON has no source text to show: the lost zero is explained
    expect(errorWith(kube({ version: 1.3 }))).toBe('kubernetes.version: 1.3 is a number (a trailing zero is lost: 1.30 reads as 1.3); write a full version in quotes, such as "1.34.2"');
    // a --k8s-version flag replaces the file's number
    expect(load({ k8sVersion: '1.32.4' }, file('1.30')).spec.kubernetes.version).toBe('1.32.4');
  });

  it('a YAML alias bomb, or any other parse failure, is bad input naming the file', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
    const message = errorOf(() => load({}, bomb));
    expect(message).toBe('cluster.yaml: too many YAML alias expansions (more than 100; a spec never needs them)');
    expect(errorOf(() => load({}, 'a: *nothing\n'))).toMatch(/^cluster\.yaml(:\d+:\d+)?: /);
    expect(errorOf(() => load({}, 'a: 1\na: 2\n'))).toMatch(/^cluster\.yaml:\d+:\d+: /);
  });
});
