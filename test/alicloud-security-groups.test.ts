/**
 * The overlay's ports in a node's ECS security groups, the pure rule evaluation: port ranges, ALL and
 * protocol numbers, CIDRs that contain a peer or only the cluster, Drop rules and ECS's order, rules
 * knit cannot read. The same check against the Alibaba Cloud stand-in, through the real SDK and the
 * built CLI, is in alicloud-e2e.test.ts; the stand-in's DescribeSecurityGroupAttribute in
 * alicloud-standin.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { SecurityGroupInfo, SecurityGroupRule } from '../src/cloud/alicloud/api.js';
import {
  overlaySenders,
  parsePortRange,
  securityGroupCheck,
  takesPort,
  unreadSecurityGroups,
  type OverlayPort,
  type SecurityGroupFacts,
} from '../src/cloud/alicloud/security-groups.js';
import { loadSpec } from '../src/spec/load.js';

const VXLAN: OverlayPort = { protocol: 'udp', number: 8472, what: 'VXLAN' };

/** master-1 (192.168.0.10, EIP 203.0.113.20) with worker-0 in its VPC and worker-1, worker-2 in two others. */
const NODES = {
  'master-1': ['192.168.0.10', '203.0.113.20'],
  'worker-0': ['192.168.0.11'],
  'worker-1': ['172.17.0.20', '198.51.100.20'],
  'worker-2': ['172.18.0.30', '198.51.100.30'],
} as const;
const SENDERS: SecurityGroupFacts['senders'] = [
  { name: 'worker-0', address: '192.168.0.11', via: 'private' },
  { name: 'worker-1', address: '198.51.100.20', via: 'public' },
  { name: 'worker-2', address: '198.51.100.30', via: 'public' },
];

let ruleIds = 0;
const rule = (protocol: string, portRange: string, source: string, more: Partial<SecurityGroupRule> = {}): SecurityGroupRule => ({
  ruleId: `sgr-${++ruleIds}`,
  protocol,
  portRange,
  ...(source.startsWith('sg-') ? { sourceGroupId: source } : source.startsWith('pl-') ? { sourcePrefixListId: source } : source.includes(':') ? { ipv6SourceCidr: source } : { sourceCidr: source }),
  policy: 'accept',
  priority: 1,
  ...more,
});
const group = (securityGroupId: string, ingress: SecurityGroupRule[], innerAccessPolicy?: string): SecurityGroupInfo => ({
  securityGroupId,
  name: securityGroupId,
  vpcId: 'vpc-1',
  ...(innerAccessPolicy ? { innerAccessPolicy } : {}),
  ingress,
});
const peersOnly = (): SecurityGroupRule[] => [rule('UDP', '8472/8472', '198.51.100.20/32'), rule('UDP', '8472/8472', '198.51.100.30/32')];

const facts = (groups: SecurityGroupInfo[], more: Partial<SecurityGroupFacts> = {}): SecurityGroupFacts => ({
  regionId: 'cn-hangzhou',
  instanceId: 'i-master',
  groups,
  overlay: [VXLAN],
  senders: SENDERS,
  nodeAddresses: Object.values(NODES).flat(),
  vpcCidr: '192.168.0.0/16',
  ...more,
});

describe('port ranges and protocols', () => {
  it('reads from/to ranges; -1/-1 is every port; a reversed or malformed range is unreadable', () => {
    expect(parsePortRange('8472/8472')).toEqual([8472, 8472]);
    expect(parsePortRange('1/65535')).toEqual([1, 65535]);
    expect(parsePortRange('-1/-1')).toEqual([1, 65535]);
    expect(parsePortRange('200/1')).toBeUndefined();
    expect(parsePortRange('8472')).toBeUndefined();
  });

  it('ALL takes every port; UDP takes its range only; TCP never takes a UDP port; a protocol number counts as its protocol', () => {
    expect(takesPort({ protocol: 'ALL', portRange: '-1/-1' }, VXLAN)).toBe(true);
    expect(takesPort({ protocol: 'UDP', portRange: '8000/9000' }, VXLAN)).toBe(true);
    expect(takesPort({ protocol: 'UDP', portRange: '-1/-1' }, VXLAN)).toBe(true);
    expect(takesPort({ protocol: 'UDP', portRange: '4789/4789' }, VXLAN)).toBe(false);
    expect(takesPort({ protocol: 'TCP', portRange: '1/65535' }, VXLAN)).toBe(false);
    expect(takesPort({ protocol: 'ICMP', portRange: '-1/-1' }, VXLAN)).toBe(false);
    expect(takesPort({ protocol: '17', portRange: '8472/8472' }, VXLAN)).toBe(true);
    // a port list (PortRangeListId) names no range knit can read
    expect(takesPort({ protocol: 'UDP', portRange: '' }, VXLAN)).toBeUndefined();
    const ipip: OverlayPort = { protocol: 'ip', number: 4, what: 'IPIP' };
    expect(takesPort({ protocol: '4', portRange: '-1/-1' }, ipip)).toBe(true);
    expect(takesPort({ protocol: 'GRE', portRange: '-1/-1' }, ipip)).toBe(false);
  });
});

describe('the security-group check', () => {
  it('rules scoped to the peers, the rest of the VPC by its internal policy: pass, naming the group', () => {
    const r = securityGroupCheck(facts([group('sg-nodes', peersOnly(), 'Accept')]));
    expect(r).toMatchObject({ id: 'alicloud/security-group', status: 'pass' });
    expect(r.reason).toBe(
      'security group sg-nodes lets 8472/udp (VXLAN) in only from the cluster: 2 peer(s) in other VPCs by public IP, 1 node(s) of this VPC by private IP, if they are members of sg-nodes',
    );
  });

  it("a rule from this VPC's CIDR admits only the cluster's side of it", () => {
    const r = securityGroupCheck(facts([group('sg-nodes', [...peersOnly(), rule('UDP', '8472/8472', '192.168.0.0/16')])]));
    expect(r.status).toBe('pass');
    expect(r.reason).not.toContain('if they are members');
  });

  it('open to 0.0.0.0/0: warn with the revoke line by rule id, and every peer authorized first (nothing else lets them in)', () => {
    const world = rule('UDP', '8472/8472', '0.0.0.0/0', { ruleId: 'sgr-world' });
    const r = securityGroupCheck(facts([group('sg-nodes', [rule('TCP', '22/22', '0.0.0.0/0'), world], 'Accept')]));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain('8472/udp (VXLAN) is open to the internet (0.0.0.0/0) by sg-nodes rule sgr-world (Accept UDP 8472/8472 from 0.0.0.0/0, priority 1)');
    expect(r.reason).toContain('8472/udp (VXLAN) is not allowed from worker-1 (198.51.100.20, its public IP), worker-2 (198.51.100.30, its public IP)');
    const authorize = (ip: string, name: string) =>
      `aliyun ecs AuthorizeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-nodes --Permissions.1.IpProtocol UDP --Permissions.1.PortRange 8472/8472 --Permissions.1.SourceCidrIp ${ip}/32 --Permissions.1.Policy accept --Permissions.1.Priority 1 --Permissions.1.Description knit-overlay-from-${name}`;
    const revoke = 'aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-nodes --SecurityGroupRuleId.1 sgr-world';
    expect(r.reason).toContain(`first authorize the cluster's nodes: ${authorize('198.51.100.20', 'worker-1')}; ${authorize('198.51.100.30', 'worker-2')}; then revoke what is open beyond the cluster: ${revoke}`);
    // SSH's rule is not the overlay's business
    expect(r.reason).not.toContain('22/22');
  });

  it('a CIDR that contains a peer but more than the cluster is open beyond it; one that holds only node addresses is not', () => {
    const wide = securityGroupCheck(facts([group('sg-nodes', [rule('UDP', '8472/8472', '198.51.100.0/24', { ruleId: 'sgr-24' })], 'Accept')]));
    expect(wide.status).toBe('warn');
    expect(wide.reason).toContain("is open to 198.51.100.0/24, beyond the cluster's addresses by sg-nodes rule sgr-24");
    expect(wide.reason).toContain('--Permissions.1.SourceCidrIp 198.51.100.20/32');
    expect(wide.reason).toContain('--SecurityGroupRuleId.1 sgr-24');
    // 198.51.100.20/31 is .20 and .21: both nodes here
    const pair = securityGroupCheck(
      facts([group('sg-nodes', [rule('UDP', '8472/8472', '198.51.100.20/31')], 'Accept')], {
        senders: [SENDERS[0]!, SENDERS[1]!, { name: 'worker-3', address: '198.51.100.21', via: 'public' }],
        nodeAddresses: [...Object.values(NODES).flat(), '198.51.100.21'],
      }),
    );
    expect(pair.status).toBe('pass');
  });

  it('10.0.0.0/8 outside this VPC is beyond the cluster; a bare address is its /32', () => {
    const r = securityGroupCheck(facts([group('sg-nodes', [...peersOnly(), rule('UDP', '8472/8472', '10.0.0.0/8', { ruleId: 'sgr-ten' })], 'Accept')]));
    expect(r.reason).toContain("open to 10.0.0.0/8, beyond the cluster's addresses");
    expect(r.reason).not.toContain('AuthorizeSecurityGroup');
    expect(r.reason).toContain('revoke what is open beyond the cluster: aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-nodes --SecurityGroupRuleId.1 sgr-ten');
    const bare = securityGroupCheck(facts([group('sg-nodes', [rule('UDP', '8472/8472', '198.51.100.20'), rule('UDP', '8472/8472', '198.51.100.30')], 'Accept')]));
    expect(bare.status).toBe('pass');
  });

  it('a peer with no rule: warn with its authorize line, in the group that holds the overlay rules', () => {
    const r = securityGroupCheck(
      facts([group('sg-nodes', [rule('TCP', '22/22', '0.0.0.0/0')], 'Accept'), group('sg-overlay', [rule('UDP', '8472/8472', '198.51.100.20/32')])]),
    );
    expect(r.status).toBe('warn');
    expect(r.reason).toMatch(/^security groups sg-nodes, sg-overlay: 8472\/udp \(VXLAN\) is not allowed from worker-2 \(198\.51\.100\.30, its public IP\); authorize/);
    expect(r.reason).toContain('aliyun ecs AuthorizeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-overlay --Permissions.1.IpProtocol UDP --Permissions.1.PortRange 8472/8472 --Permissions.1.SourceCidrIp 198.51.100.30/32');
    expect(r.reason).not.toContain('198.51.100.20/32 --');
    expect(r.reason).not.toContain('Revoke');
  });

  it('ALL -1/-1 from anywhere: named as wider than the overlay; a rule the API listed without an id is revoked by its fields, -1/-1 joined with =', () => {
    const { ruleId: _, ...all } = rule('ALL', '-1/-1', '0.0.0.0/0');
    const r = securityGroupCheck(facts([group('sg-nodes', [all, ...peersOnly()], 'Accept')]));
    expect(r.reason).toContain('which opens more than the overlay: re-authorize what else it served, scoped, before revoking it');
    expect(r.reason).toContain(
      'aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-nodes --Permissions.1.IpProtocol ALL --Permissions.1.PortRange=-1/-1 --Permissions.1.SourceCidrIp 0.0.0.0/0 --Permissions.1.Policy accept --Permissions.1.NicType intranet',
    );
  });

  it('Drop rules: one that ECS sorts first shadows an open Accept; one sorted after it does not', () => {
    // peers and the VPC at priority 1, then Drop and Accept from anywhere at 100: the Drop wins the tie
    const drop = rule('UDP', '8472/8472', '0.0.0.0/0', { policy: 'drop', priority: 100, ruleId: 'sgr-drop' });
    const guarded = [...peersOnly(), drop, rule('ALL', '-1/-1', '0.0.0.0/0', { priority: 100 })];
    expect(securityGroupCheck(facts([group('sg-nodes', [...guarded, rule('UDP', '8472/8472', '192.168.0.0/16')], 'Accept')])).status).toBe('pass');
    // without the VPC's rule the Drop takes this VPC's node too, unless it comes in as a member of the group
    expect(securityGroupCheck(facts([group('sg-nodes', guarded, 'Accept')]))).toMatchObject({ status: 'pass', reason: expect.stringContaining('if they are members of sg-nodes') });
    expect(securityGroupCheck(facts([group('sg-nodes', guarded, 'Drop')])).reason).toContain('from worker-0 (192.168.0.11) is dropped by sg-nodes rule sgr-drop');
    // the Accept at priority 1 comes before the Drop at 2
    const leaky = [rule('UDP', '8472/8472', '0.0.0.0/0', { ruleId: 'sgr-open' }), rule('UDP', '8472/8472', '0.0.0.0/0', { policy: 'drop', priority: 2 }), ...peersOnly()];
    const r = securityGroupCheck(facts([group('sg-nodes', leaky, 'Accept')]));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain('by sg-nodes rule sgr-open');
  });

  it('a peer dropped by a Drop of the same priority as its Accept: warned, with why', () => {
    const rules = [...peersOnly(), rule('UDP', '8472/8472', '198.51.100.30/32', { ruleId: 'sgr-drop', policy: 'drop' })];
    const r = securityGroupCheck(facts([group('sg-nodes', rules, 'Accept')]));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain(
      '8472/udp (VXLAN) from worker-2 (198.51.100.30) is dropped by sg-nodes rule sgr-drop (Drop UDP 8472/8472 from 198.51.100.30/32, priority 1) (a Drop wins over an Accept of the same priority: give it a larger priority number, or revoke it)',
    );
    expect(r.reason).toContain('--Permissions.1.SourceCidrIp 198.51.100.30/32');
  });

  it("a node of this VPC is let in by a CIDR or by a group's rules; with neither, and an isolating group, it is missing", () => {
    const isolated = securityGroupCheck(facts([group('sg-nodes', peersOnly(), 'Drop')]));
    expect(isolated.reason).toContain('is not allowed from worker-0 (192.168.0.11, its private IP)');
    expect(isolated.reason).toContain('--Permissions.1.SourceCidrIp 192.168.0.11/32');
    const byGroup = securityGroupCheck(facts([group('sg-nodes', [...peersOnly(), rule('UDP', '8472/8472', 'sg-workers')], 'Drop')]));
    expect(byGroup).toMatchObject({ status: 'pass' });
    expect(byGroup.reason).toContain('if they are members of sg-workers');
  });

  it('IPv6 rules are not read; a prefix list that may take the port is named as not evaluated', () => {
    const r = securityGroupCheck(
      facts([group('sg-nodes', [...peersOnly(), rule('UDP', '8472/8472', '::/0'), rule('UDP', '8472/8472', 'pl-corp', { ruleId: 'sgr-pl' }), rule('TCP', '22/22', 'pl-admins')], 'Accept')]),
    );
    expect(r.status).toBe('pass');
    expect(r.reason).toMatch(/ \(not evaluated: sg-nodes rule sgr-pl with prefix list pl-corp\)$/);
  });

  it('groups that could not be read: a warning naming why and the permissions', () => {
    const r = unreadSecurityGroups('i-master', [VXLAN], 'ECS DescribeSecurityGroupAttribute: permission denied (Forbidden.RAM): the credentials lack ecs:DescribeSecurityGroupAttribute');
    expect(r).toMatchObject({ id: 'alicloud/security-group', status: 'warn' });
    expect(r.reason).toBe(
      'the security groups of i-master could not be read (ECS DescribeSecurityGroupAttribute: permission denied (Forbidden.RAM): the credentials lack ecs:DescribeSecurityGroupAttribute), ' +
        'so whether 8472/udp (VXLAN) is open beyond the cluster is unknown: knit reads them with ecs:DescribeInstances and ecs:DescribeSecurityGroupAttribute (`knit alicloud ram-policy`), or check their inbound rules by hand',
    );
  });

  it("the senders from a spec: other VPCs by public IP, this VPC by private IP (knit's VPC rule)", () => {
    const text = [
      'nodes:',
      '  - { name: master-1, role: control-plane, privateIP: 192.168.0.10, publicIP: 203.0.113.20 }',
      '  - { name: worker-0, role: worker, privateIP: 192.168.0.11 }',
      '  - { name: worker-1, role: worker, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }',
      '',
    ].join('\n');
    const { spec } = loadSpec({ hostname: 'x', file: { name: 'c.yaml', text }, flags: { nodeName: 'master-1' } });
    expect(overlaySenders(spec, 'master-1')).toEqual({
      senders: [
        { name: 'worker-0', address: '192.168.0.11', via: 'private' },
        { name: 'worker-1', address: '198.51.100.20', via: 'public' },
      ],
      nodeAddresses: ['192.168.0.10', '203.0.113.20', '192.168.0.11', '172.17.0.20', '198.51.100.20'],
    });
  });
});
