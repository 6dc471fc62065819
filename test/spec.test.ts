import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { loadSpec, stringifySpec, type SpecFlags } from '../src/spec/load.js';

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
    ['a missing private IP', { advertiseAddress: undefined }, 'nodes[0].privateIP (--advertise-address): is required (an IPv4 address)'],
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
