import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { loadSpec, stringifySpec, type SpecFlags } from '../src/spec/load.js';

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
    ['an unknown CNI', { cni: 'weave' }, 'network.plugin (--cni): unknown CNI "weave" (choose flannel, calico, terway)'],
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
    expect(errorOf(() => load({}, crossVpcFile.replace('network: { plugin: flannel }', 'network: { plugin: flannel, vni: 4 }')))).toMatch(
      /^network: Unrecognized key: "vni"/,
    );
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
