/**
 * The pure side of the Alibaba Cloud support: Terway's pod budget, the cloud checks (SNAT coverage by
 * vSwitch id and by CIDR, free IPs, RAM role), the RAM policy against Terway's own docs, metadata facts
 * filling the spec, and what reaches kubeadm (provider-id, topology labels, max-pods).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { skipUnless } from './helpers/skip.js';
import { describeApiError, parseEndpoint, type VSwitchInfo } from '../src/cloud/alicloud/api.js';
import { snatEntryFor, terwayCloudChecks, type TerwayCloudFacts } from '../src/cloud/alicloud/checks.js';
import { planMaxPods, terwayPodCapacity } from '../src/cloud/alicloud/max-pods.js';
import { ramPolicy, TERWAY_ACTIONS } from '../src/cloud/alicloud/ram-policy.js';
import { nodeRegistration } from '../src/kubeadm/model.js';
import { loadSpec, type DetectedHost } from '../src/spec/load.js';

const g7large = { instanceType: 'ecs.g7.large', eniQuantity: 3, eniPrivateIpAddressQuantity: 6 };

describe('Terway max pods', () => {
  it('shared ENI: (ENIs − 1) × IPs per ENI; exclusive ENI: ENIs − 1', () => {
    expect(terwayPodCapacity(g7large, 'eniip')).toBe(12);
    expect(terwayPodCapacity(g7large, 'eni')).toBe(2);
  });

  it('kubelet maxPods adds the host-network pods knit installs: 2 on a worker, 6 on a control plane', () => {
    expect(planMaxPods(g7large, 'eniip', 'worker', 10)).toMatchObject({ podCapacity: 12, maxPods: 14, hostNetworkPods: ['kube-proxy', 'terway-eniip'] });
    expect(planMaxPods(g7large, 'eniip', 'control-plane', 10).maxPods).toBe(18);
    expect(planMaxPods(g7large, 'eniip', 'worker', 10).warning).toBeUndefined();
  });

  it('warns about the low-spec trap: one ENI holds no pod at all; few ENIs hold fewer than planned', () => {
    const oneEni = planMaxPods({ instanceType: 'ecs.t5-lc1m1.small', eniQuantity: 1, eniPrivateIpAddressQuantity: 1 }, 'eniip', 'worker', 16);
    expect(oneEni).toMatchObject({ podCapacity: 0, maxPods: 2 });
    expect(oneEni.warning).toMatch(/ecs\.t5-lc1m1\.small has 1 ENI × 1 IPs: .* no pod an address; choose a type with at least 2 ENIs/);
    expect(planMaxPods(g7large, 'eni', 'worker', 16).warning).toMatch(/holds only 2 Terway pods \(3 ENIs, eni\), fewer than the 16 planned .* or shared ENI \(eniip\)/);
  });
});

const vsw = (id: string, cidr: string, availableIps = 200, zoneId = 'cn-hangzhou-h'): VSwitchInfo => ({ vswitchId: id, vpcId: 'vpc-1', zoneId, cidr, availableIps });

const facts = (over: Partial<TerwayCloudFacts> = {}): TerwayCloudFacts => ({
  regionId: 'cn-hangzhou',
  vpcId: 'vpc-1',
  podVSwitches: [vsw('vsw-a', '10.0.1.0/24'), vsw('vsw-b', '10.0.2.0/24')],
  unknownVSwitches: [],
  natGateways: [{ natGatewayId: 'ngw-1', snatTableIds: ['stb-1'] }],
  snatEntries: [
    { natGatewayId: 'ngw-1', snatTableId: 'stb-1', snatIp: '203.0.113.50', sourceVSwitchId: 'vsw-a' },
    { natGatewayId: 'ngw-1', snatTableId: 'stb-1', snatIp: '203.0.113.50', sourceCidr: '10.0.0.0/16' },
  ],
  plannedPods: 32,
  credentials: 'ram-role',
  ramRole: 'KnitTerwayRole',
  ...over,
});

describe('SNAT coverage', () => {
  it('a vSwitch is covered by its own id, or by a SourceCIDR containing its CIDR, never by one merely overlapping it', () => {
    const byId = { natGatewayId: 'ngw-1', snatTableId: 'stb-1', snatIp: '203.0.113.50', sourceVSwitchId: 'vsw-a' };
    const wide = { natGatewayId: 'ngw-1', snatTableId: 'stb-1', snatIp: '203.0.113.50', sourceCidr: '10.0.0.0/16' };
    const narrow = { natGatewayId: 'ngw-1', snatTableId: 'stb-1', snatIp: '203.0.113.50', sourceCidr: '10.0.2.0/25' };
    expect(snatEntryFor(vsw('vsw-a', '10.0.1.0/24'), [wide, byId])).toBe(byId);
    expect(snatEntryFor(vsw('vsw-b', '10.0.2.0/24'), [byId, wide])).toBe(wide);
    expect(snatEntryFor(vsw('vsw-b', '10.0.2.0/24'), [byId, narrow])).toBeUndefined();
    expect(snatEntryFor(vsw('vsw-c', '10.1.0.0/24'), [byId, wide])).toBeUndefined();
  });

  it('names the uncovered vSwitch and the exact SNAT entry to create on the existing NAT gateway', () => {
    const [snat] = terwayCloudChecks(facts({ podVSwitches: [vsw('vsw-c', '10.1.0.0/24')] })).filter((c) => c.id === 'alicloud/snat');
    expect(snat).toMatchObject({ status: 'warn' });
    expect(snat!.reason).toContain('pods on vsw-c (10.1.0.0/24) cannot reach the internet');
    expect(snat!.reason).toContain('aliyun vpc CreateSnatEntry --RegionId cn-hangzhou --SnatTableId stb-1 --SourceVSwitchId vsw-c --SnatIp 203.0.113.50');
  });

  it('without a NAT gateway, says to create one first', () => {
    const [snat] = terwayCloudChecks(facts({ natGateways: [], snatEntries: [] })).filter((c) => c.id === 'alicloud/snat');
    expect(snat!.reason).toMatch(/VPC vpc-1 has no NAT gateway: create one \(aliyun vpc CreateNatGateway --RegionId cn-hangzhou --VpcId vpc-1 .*then an SNAT entry for vsw-a, vsw-b/);
  });

  it('passes when every pod vSwitch is covered, naming the gateway of each', () => {
    const [snat] = terwayCloudChecks(facts()).filter((c) => c.id === 'alicloud/snat');
    expect(snat).toEqual({ id: 'alicloud/snat', status: 'pass', reason: 'every pod vSwitch has an SNAT entry (vsw-a via ngw-1, vsw-b via ngw-1)' });
  });
});

describe('the other cloud checks', () => {
  const byId = (f: TerwayCloudFacts) => Object.fromEntries(terwayCloudChecks(f).map((c) => [c.id, c]));

  it('free vSwitch IPs against the planned pods', () => {
    expect(byId(facts())['alicloud/vswitch-ips']).toMatchObject({ status: 'pass', reason: '400 free IPs for 32 planned pods (vsw-a 200, vsw-b 200)' });
    const short = byId(facts({ podVSwitches: [vsw('vsw-a', '10.0.1.0/24', 10), vsw('vsw-b', '10.0.2.0/24', 0)] }))['alicloud/vswitch-ips'];
    expect(short).toMatchObject({ status: 'warn' });
    expect(short!.reason).toContain('have 10 free IPs (vsw-a 10, vsw-b 0), fewer than the 32 pods planned');
  });

  it('no pod vSwitch at all fails, and skips the checks that need one', () => {
    const checks = byId(facts({ podVSwitches: [] }));
    expect(checks['alicloud/vswitches']).toMatchObject({ status: 'fail' });
    expect(checks['alicloud/snat']).toBeUndefined();
  });

  it('a vSwitch the VPC does not have fails; a RAM-role Terway on an instance without a role fails', () => {
    expect(byId(facts({ unknownVSwitches: ['vsw-gone'] }))['alicloud/vswitches']).toMatchObject({ status: 'fail' });
    const noRole = byId(facts({ ramRole: undefined }))['alicloud/ram-role'];
    expect(noRole).toMatchObject({ status: 'fail' });
    expect(noRole!.reason).toContain('knit alicloud ram-policy');
    expect(byId(facts({ credentials: 'access-key', ramRole: undefined }))['alicloud/ram-role']).toBeUndefined();
  });

  it('an instance type without ENIs to spare fails the max-pods check', () => {
    const maxPods = planMaxPods({ instanceType: 'ecs.t5-lc1m1.small', eniQuantity: 1, eniPrivateIpAddressQuantity: 1 }, 'eniip', 'worker', 16);
    expect(byId(facts({ maxPods }))['alicloud/max-pods']).toMatchObject({ status: 'fail' });
    expect(byId(facts({ maxPods: planMaxPods(g7large, 'eniip', 'worker', 8) }))['alicloud/max-pods']).toMatchObject({
      status: 'pass',
      reason: 'ecs.g7.large: 12 Terway pods + 2 host-network pods = maxPods 14',
    });
  });
});

describe('RAM policy', () => {
  const upstream = fileURLToPath(new URL('../../shared/upstream/terway/ram-policy.json', import.meta.url));

  it("Terway's statement has exactly the actions of Terway's docs", skipUnless({ ok: existsSync(upstream), reason: `${upstream} is missing (Terway's RAM policy to compare with)` }), () => {
    const doc = JSON.parse(readFileSync(upstream, 'utf8')) as { Statement: { Action: string[] }[] };
    const theirs = doc.Statement.flatMap((s) => s.Action).sort();
    expect(ramPolicy('terway').Statement.flatMap((s) => s.Action).sort()).toEqual(theirs);
  });

  it("knit's own read-only calls come in a second statement, none repeated", () => {
    const [terway, knit] = ramPolicy().Statement;
    expect(terway!.Action).toContain('ecs:AssignIpv6Addresses');
    expect(terway!.Action).toContain('vpc:DescribeVSwitches');
    expect(knit!.Action).toEqual(['ecs:DescribeInstances', 'ecs:DescribeSecurityGroupAttribute', 'vpc:DescribeNatGateways', 'vpc:DescribeSnatTableEntries', 'vpc:DescribeRouteTableList', 'vpc:DescribeRouteEntryList']);
    expect(TERWAY_ACTIONS.ecs).toContain('DescribeInstanceTypes');
  });
});

describe('metadata facts fill the spec, and reach kubeadm', () => {
  const detected: DetectedHost = {
    privateIP: '172.16.0.10',
    publicIP: '203.0.113.10',
    instanceId: 'i-bp1knitcp',
    instanceType: 'ecs.g7.large',
    zoneId: 'cn-hangzhou-h',
    regionId: 'cn-hangzhou',
    vswitchId: 'vsw-node',
  };

  it('fills addresses, identity, region and the Terway vSwitch of the zone, without --advertise-address', () => {
    const { spec, localNode } = loadSpec({ hostname: 'iZbp1knitcpZ', flags: { cni: 'terway' }, detected });
    const node = spec.nodes.find((n) => n.name === localNode)!;
    expect(node).toMatchObject({ name: 'izbp1knitcpz', privateIP: '172.16.0.10', publicIP: '203.0.113.10', instanceId: 'i-bp1knitcp', instanceType: 'ecs.g7.large', zone: 'cn-hangzhou-h' });
    expect(spec.alicloud?.region).toBe('cn-hangzhou');
    expect(spec.network.terway.vswitches).toEqual({ 'cn-hangzhou-h': ['vsw-node'] });
    expect(spec.kubernetes.controlPlaneEndpoint).toBe('203.0.113.10:6443');
  });

  it('never overrides what the file or flags say', () => {
    const file = { name: 'c.yaml', text: 'network:\n  plugin: terway\n  terway:\n    vswitches: {cn-hangzhou-i: [vsw-pods]}\nalicloud: {region: cn-shanghai}\n' };
    const { spec } = loadSpec({ hostname: 'n1', file, flags: { advertiseAddress: '172.16.9.9' }, detected });
    expect(spec.nodes[0]!.privateIP).toBe('172.16.9.9');
    expect(spec.alicloud?.region).toBe('cn-shanghai');
    expect(spec.network.terway.vswitches).toEqual({ 'cn-hangzhou-i': ['vsw-pods'] });
  });

  it("kubelet gets --provider-id=<region>.<instance>, the topology labels and max-pods", () => {
    const { spec, localNode } = loadSpec({ hostname: 'cp', flags: { cni: 'terway' }, detected });
    const node = { ...spec.nodes.find((n) => n.name === localNode)!, maxPods: 18 };
    expect(nodeRegistration(spec, node).kubeletExtraArgs).toEqual({
      'node-ip': '172.16.0.10',
      'provider-id': 'cn-hangzhou.i-bp1knitcp',
      'node-labels': 'topology.kubernetes.io/region=cn-hangzhou,topology.kubernetes.io/zone=cn-hangzhou-h,node.kubernetes.io/instance-type=ecs.g7.large',
      'max-pods': '18',
    });
  });

  it("on a worker, the metadata's private IP picks the worker's entry, never the control plane's", () => {
    const file = { name: 'c.yaml', text: 'nodes:\n  - {name: cp, role: control-plane, privateIP: 172.16.0.1}\n  - {name: w1, role: worker, privateIP: 172.16.0.10}\n' };
    const { spec, localNode } = loadSpec({ hostname: 'x', file, flags: { role: 'worker' }, detected });
    expect(localNode).toBe('w1');
    const cp = spec.nodes.find((n) => n.name === 'cp')!;
    expect(cp).toMatchObject({ role: 'control-plane', privateIP: '172.16.0.1' });
    expect(cp.instanceId).toBeUndefined();
    expect(spec.nodes.find((n) => n.name === 'w1')).toMatchObject({ instanceId: 'i-bp1knitcp' });
  });

  it("refuses to put this instance's identity on a node with another private IP", () => {
    const file = { name: 'c.yaml', text: 'nodes:\n  - {name: cp, role: control-plane, privateIP: 172.16.0.1}\n' };
    expect(() => loadSpec({ hostname: 'x', file, flags: { nodeName: 'cp' }, detected })).toThrow(
      /^nodes: this host is 172\.16\.0\.10 \(ECS metadata\), but the node picked as this one, cp, has privateIP 172\.16\.0\.1; name this host's node with --node-name/,
    );
  });

  it("an instance not in the spec takes its VPC id as its vpc label where the spec labels nodes, and only there", () => {
    const labelled = { name: 'c.yaml', text: 'nodes:\n  - {name: cp, role: control-plane, privateIP: 10.0.0.1, publicIP: 198.51.100.1, vpc: vpc-other}\n' };
    const withVpc = { ...detected, vpcId: 'vpc-bp1group' };
    // as the user-data's boot script runs it: its hostname and the private IP of its route to the metadata service
    const flags = { role: 'worker' as const, nodeName: 'iznewz', advertiseAddress: '172.16.0.10' };
    const a = loadSpec({ hostname: 'iZnewZ', file: labelled, flags, detected: withVpc });
    expect(a.spec.nodes.find((n) => n.name === a.localNode)!.vpc).toBe('vpc-bp1group');
    // unlabelled nodes are grouped by /24: one labelled node would stand alone in a VPC of its own
    const unlabelled = { name: 'c.yaml', text: 'nodes:\n  - {name: cp, role: control-plane, privateIP: 172.16.0.1}\n' };
    const b = loadSpec({ hostname: 'iZnewZ', file: unlabelled, flags, detected: withVpc });
    expect(b.spec.nodes.find((n) => n.name === b.localNode)!.vpc).toBeUndefined();
  });

  it('an instance id without a region is refused, naming the field', () => {
    const file = { name: 'c.yaml', text: 'nodes:\n  - {name: a, role: control-plane, privateIP: 172.16.0.1, instanceId: i-bp1abc}\n' };
    expect(() => loadSpec({ hostname: 'a', file })).toThrow(/^alicloud\.region: is required with nodes\[0\]\.instanceId/);
  });
});

describe('API plumbing', () => {
  it('an endpoint is host[:port] or a URL; the scheme picks the protocol', () => {
    expect(parseEndpoint('ecs-vpc.cn-hangzhou.aliyuncs.com')).toEqual({ endpoint: 'ecs-vpc.cn-hangzhou.aliyuncs.com', protocol: 'https' });
    expect(parseEndpoint('http://127.0.0.1:8080/')).toEqual({ endpoint: '127.0.0.1:8080', protocol: 'http' });
    expect(() => parseEndpoint('http://a/b/c')).toThrow(/not HOST\[:PORT\]/);
  });

  it('maps errors to exit codes: permissions and credentials 4, throttling and timeouts 1', () => {
    const denied = describeApiError('ECS', 'DescribeInstanceTypes', { code: 'Forbidden.RAM', data: { RequestId: 'R1' } }, 'e');
    expect(denied.exitCode).toBe(4);
    expect(denied.message).toBe('ECS DescribeInstanceTypes: permission denied (Forbidden.RAM): the credentials lack ecs:DescribeInstanceTypes');
    expect(describeApiError('ECS', 'DescribeInstances', { code: 'InvalidAccessKeyId.NotFound' }, 'e').exitCode).toBe(4);
    const throttled = describeApiError('VPC', 'DescribeVSwitches', { code: 'Throttling.User', message: 'Request was denied due to user flow control.' }, 'e');
    expect([throttled.exitCode, throttled.message]).toEqual([1, 'VPC DescribeVSwitches: Alibaba Cloud throttled the calls (Throttling.User) on all 3 attempts']);
    expect(describeApiError('ECS', 'DescribeInstances', { name: 'RequestTimeoutError', message: 'ReadTimeout(5000)' }, '127.0.0.1:1').message).toMatch(/no answer from 127\.0\.0\.1:1/);
  });
});
