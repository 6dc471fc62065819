/**
 * Who may send the overlay's packets to this node, as its ECS security groups say. Across VPCs the
 * overlay (VXLAN, WireGuard) is reached through the node's EIP, and VXLAN has no authentication: a
 * rule that accepts its port from 0.0.0.0/0 lets anyone put packets into the pod network. knit's
 * nftables guard drops them on the host (src/crossvpc/nft.ts); the security group is the line before
 * it, and should let in only the cluster: the peers in other VPCs from their public IPs (an EIP is
 * 1:1 NAT, so that is the source the cloud sees), the nodes of this VPC from their private IPs.
 *
 * How ECS decides, which this follows: the inbound rules of all the instance's groups are pooled and
 * sorted by priority (1 first); at equal priority Drop wins over Accept; the first matching rule
 * decides; no match drops. Rules naming another security group, and a basic group's internal-access
 * policy, apply to private traffic only. IPv6 rules are not read (knit's clusters are IPv4).
 *
 * Pure: the groups as the ECS API describes them in, one preflight result out, with the aliyun CLI
 * lines that authorize what the cluster lacks and revoke what is open beyond it.
 */
import { sameVpc } from '../../crossvpc/peers.js';
import type { CheckResult } from '../../preflight/types.js';
import { cidrContains, cidrCovers, parseCidr, type Cidr } from '../../spec/net.js';
import type { Spec } from '../../spec/schema.js';
import type { SecurityGroupInfo, SecurityGroupRule } from './api.js';

export const SECURITY_GROUP_CHECK = 'alicloud/security-group';

/** A port (or IP protocol) the overlay receives on from other nodes: the CNI's datapath needs. */
export interface OverlayPort {
  protocol: 'udp' | 'tcp' | 'ip';
  /** Port for udp/tcp; IP protocol number for `ip`. */
  number: number;
  what: string;
}

/** A node that sends the overlay's packets here, and the source address the security group sees. */
export interface OverlaySender {
  name: string;
  address: string;
  via: 'public' | 'private';
}

export interface SecurityGroupFacts {
  regionId: string;
  instanceId: string;
  /** The instance's groups, in DescribeInstances' order (new rules go to the one holding the overlay's rules, else the first). */
  groups: SecurityGroupInfo[];
  overlay: OverlayPort[];
  senders: OverlaySender[];
  /** Every node's private and public address: a rule from these alone admits only the cluster. */
  nodeAddresses: string[];
  /** This VPC's CIDR block (metadata `vpc-cidr-block`): a rule from inside it admits only this VPC. */
  vpcCidr?: string;
}

/**
 * Who sends the overlay to the local node: nodes outside its VPC from their public IP, nodes of its VPC
 * from their private IP (the VPC rule of src/crossvpc/peers.ts). A node outside the VPC without a
 * public IP cannot send at all and is left to the cross-VPC checks, which name it.
 */
export function overlaySenders(spec: Pick<Spec, 'nodes'>, localNodeName: string): { senders: OverlaySender[]; nodeAddresses: string[] } {
  const local = spec.nodes.find((n) => n.name === localNodeName);
  const senders: OverlaySender[] = [];
  for (const n of spec.nodes) {
    if (!local || n === local) continue;
    if (sameVpc(local, n)) senders.push({ name: n.name, address: n.privateIP, via: 'private' });
    else if (n.publicIP) senders.push({ name: n.name, address: n.publicIP, via: 'public' });
  }
  const nodeAddresses = [...new Set(spec.nodes.flatMap((n) => (n.publicIP ? [n.privateIP, n.publicIP] : [n.privateIP])))];
  return { senders, nodeAddresses };
}

// ---------------------------------------------------------------------------------------------------
// One rule against one port

const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { ICMP: 1, TCP: 6, UDP: 17, GRE: 47 };

/** `from/to` as numbers; `-1/-1` (every port) as 1–65535; undefined when it is not a range. */
export function parsePortRange(range: string): [number, number] | undefined {
  const m = /^(-?\d+)\/(-?\d+)$/.exec(range.trim());
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from === -1 && to === -1) return [1, 65535];
  if (from < 1 || to > 65535 || from > to) return undefined;
  return [from, to];
}

/**
 * Whether a rule's protocol and ports take in this overlay port; undefined when knit cannot tell (the
 * rule names a port list, or a range it cannot read). ALL takes every protocol and port; a protocol
 * number (accepted in some regions) counts as its protocol.
 */
export function takesPort(rule: Pick<SecurityGroupRule, 'protocol' | 'portRange'>, port: OverlayPort): boolean | undefined {
  const protocol = rule.protocol.toUpperCase();
  if (protocol === 'ALL') return true;
  const number = /^\d+$/.test(protocol) ? Number(protocol) : PROTOCOL_NUMBERS[protocol];
  const wanted = port.protocol === 'ip' ? port.number : PROTOCOL_NUMBERS[port.protocol.toUpperCase()];
  if (number === undefined || number !== wanted) return false;
  if (port.protocol === 'ip') return true;
  const range = rule.portRange ? parsePortRange(rule.portRange) : undefined;
  return range ? port.number >= range[0] && port.number <= range[1] : undefined;
}

type Source =
  | { kind: 'cidr'; cidr: Cidr }
  | { kind: 'group'; groupId: string }
  | { kind: 'unread'; what: string }
  | { kind: 'ipv6' };

/** A rule's source; a bare address (the API takes one) is its /32. */
function sourceOf(rule: SecurityGroupRule): Source {
  if (rule.sourceCidr) {
    const cidr = parseCidr(rule.sourceCidr.includes('/') ? rule.sourceCidr : `${rule.sourceCidr}/32`);
    return cidr ? { kind: 'cidr', cidr } : { kind: 'unread', what: `source ${rule.sourceCidr}` };
  }
  if (rule.sourceGroupId) return { kind: 'group', groupId: rule.sourceGroupId };
  if (rule.ipv6SourceCidr) return { kind: 'ipv6' };
  if (rule.sourcePrefixListId) return { kind: 'unread', what: `prefix list ${rule.sourcePrefixListId}` };
  return { kind: 'unread', what: 'no source knit knows' };
}

interface Rule extends SecurityGroupRule {
  groupId: string;
  source: Source;
}

/** ECS's order: priority 1 first; at equal priority Drop before Accept. */
const ecsOrder = (a: Rule, b: Rule): number => a.priority - b.priority || Number(a.policy === 'accept') - Number(b.policy === 'accept');

/** Whether every address of the CIDR is the cluster's: inside this VPC, or nothing but node addresses. */
function withinCluster(cidr: Cidr, nodeAddresses: readonly string[], vpc: Cidr | undefined): boolean {
  if (vpc && cidrCovers(vpc, cidr)) return true;
  const nodesInside = nodeAddresses.filter((ip) => cidrContains(cidr, ip)).length;
  return nodesInside === 2 ** (32 - cidr.prefix);
}

// ---------------------------------------------------------------------------------------------------
// The aliyun CLI lines

export const describePort = (p: OverlayPort): string => (p.protocol === 'ip' ? `IP protocol ${p.number} (${p.what})` : `${p.number}/${p.protocol} (${p.what})`);

/** The CLI reads a value that starts with '-' (the -1/-1 of ALL) as a flag unless it is joined with '='. */
const flag = (name: string, value: string | number): string => (String(value).startsWith('-') ? `--${name}=${value}` : `--${name} ${value}`);

const ruleProtocol = (p: OverlayPort): string => (p.protocol === 'ip' ? String(p.number) : p.protocol.toUpperCase());
const rulePorts = (p: OverlayPort): string => (p.protocol === 'ip' ? '-1/-1' : `${p.number}/${p.number}`);

/**
 * AuthorizeSecurityGroup in the current form of the API: the rule as Permissions.N.* (the unprefixed
 * IpProtocol/PortRange/SourceCidrIp are deprecated), priority 1 so that no Drop of a later priority
 * overrides it. See the ECS API reference, AuthorizeSecurityGroup
 * (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-authorizesecuritygroup)
 * and the SDK's AuthorizeSecurityGroupRequest (@alicloud/ecs20140526), which mark the unprefixed ones deprecated.
 */
function authorizeLine(f: SecurityGroupFacts, groupId: string, port: OverlayPort, sender: OverlaySender): string {
  return [
    `aliyun ecs AuthorizeSecurityGroup ${flag('RegionId', f.regionId)} ${flag('SecurityGroupId', groupId)}`,
    flag('Permissions.1.IpProtocol', ruleProtocol(port)),
    flag('Permissions.1.PortRange', rulePorts(port)),
    flag('Permissions.1.SourceCidrIp', `${sender.address}/32`),
    flag('Permissions.1.Policy', 'accept'),
    flag('Permissions.1.Priority', 1),
    flag('Permissions.1.Description', `knit-overlay-from-${sender.name}`),
  ].join(' ');
}

/**
 * RevokeSecurityGroup by rule id (SecurityGroupRuleId.N, what the API reference recommends:
 * https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-revokesecuritygroup);
 * a rule the API listed without an id is named by its Permissions.1.* fields instead (the two forms
 * cannot be mixed in one call).
 */
function revokeLines(f: SecurityGroupFacts, rules: readonly Rule[]): string[] {
  const lines: string[] = [];
  for (const groupId of [...new Set(rules.map((r) => r.groupId))]) {
    const inGroup = rules.filter((r) => r.groupId === groupId);
    const head = `aliyun ecs RevokeSecurityGroup ${flag('RegionId', f.regionId)} ${flag('SecurityGroupId', groupId)}`;
    const ids = inGroup.flatMap((r) => (r.ruleId ? [r.ruleId] : []));
    if (ids.length > 0) lines.push([head, ...ids.map((id, i) => flag(`SecurityGroupRuleId.${i + 1}`, id))].join(' '));
    for (const r of inGroup.filter((x) => !x.ruleId))
      lines.push(
        [
          head,
          flag('Permissions.1.IpProtocol', r.protocol),
          flag('Permissions.1.PortRange', r.portRange),
          flag('Permissions.1.SourceCidrIp', r.sourceCidr!),
          flag('Permissions.1.Policy', r.policy),
          flag('Permissions.1.NicType', 'intranet'),
        ].join(' '),
      );
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// The check

const describeRule = (r: Rule): string =>
  `${r.groupId} rule ${r.ruleId ?? '(no id)'} (${r.policy === 'drop' ? 'Drop' : 'Accept'} ${r.protocol} ${r.portRange || r.portRangeListId || ''}${r.sourceCidr ? ` from ${r.sourceCidr}` : ''}, priority ${r.priority})`;

/** A rule that admits more than the overlay's ports (ALL, or a wider range): revoking it closes the rest too. */
function widerThan(r: Rule, ports: readonly OverlayPort[]): boolean {
  if (r.protocol === 'ALL') return true;
  const number = /^\d+$/.test(r.protocol) ? Number(r.protocol) : PROTOCOL_NUMBERS[r.protocol];
  if (number !== PROTOCOL_NUMBERS.TCP && number !== PROTOCOL_NUMBERS.UDP) return false;
  const range = parsePortRange(r.portRange);
  return range !== undefined && !(range[0] === range[1] && ports.some((p) => p.protocol !== 'ip' && p.number === range[0]));
}

const openTo = (cidr: Cidr): string => (cidr.prefix === 0 ? 'the internet (0.0.0.0/0)' : `${cidr.text}, beyond the cluster's addresses`);

type Decision = { policy: 'accept' | 'drop'; rule: Rule } | { policy: 'accept'; group: string } | { policy: 'none' };

/**
 * What ECS does with the overlay's packets from one sender, by these rules (in ECS's order). Private
 * traffic may also come in as a member of a security group: a rule naming the group, or a basic
 * group's internal access ("intra-group interworking", which ECS documents as holding regardless of
 * the custom rules). Whether the sender is a member knit cannot see, so that path counts, and the
 * verdict says it assumed so.
 */
function decide(rules: readonly Rule[], port: OverlayPort, sender: OverlaySender, groups: readonly SecurityGroupInfo[]): Decision {
  const rule = rules.find((r) => r.source.kind === 'cidr' && takesPort(r, port) === true && cidrContains(r.source.cidr, sender.address));
  if (rule?.policy === 'accept') return { policy: 'accept', rule };
  if (sender.via === 'private') {
    const byGroup = rules.find((r) => r.source.kind === 'group' && r.policy === 'accept' && takesPort(r, port) === true);
    if (byGroup?.source.kind === 'group') return { policy: 'accept', group: byGroup.source.groupId };
    const inner = groups.find((g) => g.innerAccessPolicy?.toLowerCase() === 'accept');
    if (inner) return { policy: 'accept', group: inner.securityGroupId };
  }
  return rule ? { policy: 'drop', rule } : { policy: 'none' };
}

export function securityGroupCheck(f: SecurityGroupFacts): CheckResult {
  const vpc = f.vpcCidr ? parseCidr(f.vpcCidr) : undefined;
  const groups = `security group${f.groups.length === 1 ? '' : 's'} ${f.groups.map((g) => g.securityGroupId).join(', ')}`;
  const ports = f.overlay.map(describePort).join(', ');
  const rules = f.groups
    .flatMap((g) => g.ingress.map((r): Rule => ({ ...r, groupId: g.securityGroupId, source: sourceOf(r) })))
    .sort(ecsOrder);
  const clusterOnly = (r: Rule): boolean => r.source.kind === 'cidr' && withinCluster(r.source.cidr, f.nodeAddresses, vpc);

  // Accept rules that let an overlay port in from beyond the cluster, unless a Drop that ECS sorts first covers them
  const open = new Map<Rule, { cidr: Cidr; ports: OverlayPort[] }>();
  for (const port of f.overlay)
    for (const r of rules) {
      if (r.policy !== 'accept' || r.source.kind !== 'cidr' || takesPort(r, port) !== true || clusterOnly(r)) continue;
      const cidr = r.source.cidr;
      const dropped = rules.some(
        (d) => d.policy === 'drop' && d.priority <= r.priority && d.source.kind === 'cidr' && takesPort(d, port) === true && cidrCovers(d.source.cidr, cidr),
      );
      if (!dropped) open.set(r, { cidr, ports: [...(open.get(r)?.ports ?? []), port] });
    }
  const problems = [...open].map(
    ([r, o]) =>
      `${o.ports.map(describePort).join(', ')} ${o.ports.length > 1 ? 'are' : 'is'} open to ${openTo(o.cidr)} by ${describeRule(r)}` +
      (widerThan(r, f.overlay) ? ', which opens more than the overlay: re-authorize what else it served, scoped, before revoking it' : ''),
  );

  // the senders, as they will fare once those rules are revoked; new rules go next to the overlay's own
  const kept = rules.filter((r) => !open.has(r));
  const home = kept.find((r) => r.policy === 'accept' && clusterOnly(r) && f.overlay.some((p) => takesPort(r, p) === true))?.groupId ?? f.groups[0]?.securityGroupId;
  const authorize: string[] = [];
  const assumed = new Set<string>();
  for (const port of f.overlay) {
    const absent: OverlaySender[] = [];
    for (const sender of f.senders) {
      const d = decide(kept, port, sender, f.groups);
      if (d.policy === 'accept') {
        if ('group' in d) assumed.add(d.group);
        continue;
      }
      if (d.policy === 'drop')
        problems.push(
          `${describePort(port)} from ${sender.name} (${sender.address}) is dropped by ${describeRule(d.rule)}` +
            (d.rule.priority === 1 ? ' (a Drop wins over an Accept of the same priority: give it a larger priority number, or revoke it)' : ''),
        );
      else absent.push(sender);
      if (home) authorize.push(authorizeLine(f, home, port, sender));
    }
    if (absent.length > 0) problems.push(`${describePort(port)} is not allowed from ${absent.map((s) => `${s.name} (${s.address}, its ${s.via} IP)`).join(', ')}`);
  }

  // rules knit cannot evaluate but that may take an overlay port: named, so that nobody trusts the verdict blindly
  const unread = rules.filter(
    (r) => r.source.kind !== 'ipv6' && f.overlay.some((p) => takesPort(r, p) === undefined || (takesPort(r, p) === true && r.source.kind === 'unread')),
  );
  const unreadNote =
    unread.length > 0
      ? ` (not evaluated: ${unread.map((r) => `${r.groupId} rule ${r.ruleId ?? '(no id)'} with ${r.source.kind === 'unread' ? r.source.what : `port list ${r.portRangeListId ?? r.portRange}`}`).join('; ')})`
      : '';

  if (problems.length === 0) {
    const peers = f.senders.filter((s) => s.via === 'public').length;
    const members = assumed.size > 0 ? `, if they are members of ${[...assumed].join(', ')}` : '';
    return {
      id: SECURITY_GROUP_CHECK,
      status: 'pass',
      reason: `${groups} ${f.groups.length === 1 ? 'lets' : 'let'} ${ports} in only from the cluster: ${peers} peer(s) in other VPCs by public IP, ${f.senders.length - peers} node(s) of this VPC by private IP${members}${unreadNote}`,
    };
  }
  const revoke = revokeLines(f, [...open.keys()]);
  const steps = [
    ...(authorize.length > 0 ? [`${revoke.length > 0 ? 'first ' : ''}authorize the cluster's nodes: ${authorize.join('; ')}`] : []),
    ...(revoke.length > 0 ? [`${authorize.length > 0 ? 'then ' : ''}revoke what is open beyond the cluster: ${revoke.join('; ')}`] : []),
  ];
  return { id: SECURITY_GROUP_CHECK, status: 'warn', reason: `${groups}: ${[...problems, ...steps].join('; ')}${unreadNote}` };
}

/** The check when the groups could not be read: a warning, never a failure (the overlay works either way). */
export function unreadSecurityGroups(instanceId: string, overlay: readonly OverlayPort[], why: string): CheckResult {
  return {
    id: SECURITY_GROUP_CHECK,
    status: 'warn',
    reason:
      `the security groups of ${instanceId} could not be read (${why}), so whether ${overlay.map(describePort).join(', ')} is open beyond the cluster is unknown: ` +
      'knit reads them with ecs:DescribeInstances and ecs:DescribeSecurityGroupAttribute (`knit alicloud ram-policy`), or check their inbound rules by hand',
  };
}
