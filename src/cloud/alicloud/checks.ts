/**
 * The cloud side of a Terway cluster, checked before install: the pod vSwitches exist, a NAT gateway's
 * SNAT entry lets their pods reach the internet, they have addresses to spare, the instance type's
 * ENIs hold the planned pods, and Terway has credentials. Pure: the facts come from the ECS/VPC APIs
 * and the metadata service; the results join preflight's table.
 */
import type { CheckResult } from '../../preflight/types.js';
import { cidrCovers, cidrsOverlap, parseCidr } from '../../spec/net.js';
import { createRouteEntryCommand, placeholderHelp, routeTablesServing, type HybridRoute } from '../../cni/hybrid.js';
import type { NatGatewayInfo, RouteEntryInfo, RouteTableInfo, SnatEntryInfo, VSwitchInfo } from './api.js';
import type { MaxPods } from './max-pods.js';

export interface TerwayCloudFacts {
  regionId: string;
  vpcId: string;
  /** The pod vSwitches of network.terway.vswitches, as the VPC API describes them. */
  podVSwitches: VSwitchInfo[];
  /** Ids in network.terway.vswitches the VPC API does not know. */
  unknownVSwitches: string[];
  natGateways: NatGatewayInfo[];
  snatEntries: SnatEntryInfo[];
  /** This node's pod budget, from its instance type. */
  maxPods?: MaxPods;
  /** Pods planned on the Terway nodes in all (podsPerNode × nodes). */
  plannedPods: number;
  credentials: 'ram-role' | 'access-key';
  /** The instance's RAM role; undefined when it has none. */
  ramRole?: string;
}

/** The SNAT entry through which pods on this vSwitch reach the internet: by vSwitch id, or by a covering CIDR. */
export function snatEntryFor(vsw: VSwitchInfo, entries: SnatEntryInfo[]): SnatEntryInfo | undefined {
  const cidr = parseCidr(vsw.cidr);
  return (
    entries.find((e) => e.sourceVSwitchId === vsw.vswitchId) ??
    entries.find((e) => {
      const source = e.sourceCidr ? parseCidr(e.sourceCidr) : undefined;
      return source !== undefined && cidr !== undefined && cidrCovers(source, cidr);
    })
  );
}

function snatCheck(f: TerwayCloudFacts): CheckResult {
  const uncovered = f.podVSwitches.filter((v) => !snatEntryFor(v, f.snatEntries));
  if (uncovered.length === 0)
    return { id: 'alicloud/snat', status: 'pass', reason: `every pod vSwitch has an SNAT entry (${f.podVSwitches.map((v) => `${v.vswitchId} via ${snatEntryFor(v, f.snatEntries)!.natGatewayId}`).join(', ')})` };
  const names = uncovered.map((v) => `${v.vswitchId} (${v.cidr})`).join(', ');
  const gw = f.natGateways.find((g) => g.snatTableIds.length > 0);
  const snatIp = gw ? f.snatEntries.find((e) => e.natGatewayId === gw.natGatewayId)?.snatIp : undefined;
  const fix = gw
    ? uncovered.map((v) =>
        `create an SNAT entry for ${v.vswitchId} on NAT gateway ${gw.natGatewayId}: aliyun vpc CreateSnatEntry --RegionId ${f.regionId} --SnatTableId ${gw.snatTableIds[0]} --SourceVSwitchId ${v.vswitchId} --SnatIp ${snatIp ?? '<an EIP bound to the NAT gateway>'}`)
    : [`VPC ${f.vpcId} has no NAT gateway: create one (aliyun vpc CreateNatGateway --RegionId ${f.regionId} --VpcId ${f.vpcId} --NatType Enhanced --VSwitchId ${uncovered[0]!.vswitchId}), bind an EIP to it, then an SNAT entry for ${uncovered.map((v) => v.vswitchId).join(', ')}`];
  return {
    id: 'alicloud/snat',
    status: 'warn',
    // a node's EIP serves only the node's own primary address; pods hold secondary ENI addresses
    reason: `pods on ${names} cannot reach the internet: no SNAT entry covers ${uncovered.length > 1 ? 'them' : 'it'} (a node's EIP serves only the node's own address); ${fix.join('; ')}`,
  };
}

function vswitchCapacityCheck(f: TerwayCloudFacts): CheckResult {
  const free = f.podVSwitches.reduce((n, v) => n + v.availableIps, 0);
  const empty = f.podVSwitches.filter((v) => v.availableIps === 0).map((v) => v.vswitchId);
  const detail = f.podVSwitches.map((v) => `${v.vswitchId} ${v.availableIps}`).join(', ');
  if (free < f.plannedPods)
    return { id: 'alicloud/vswitch-ips', status: 'warn', reason: `the pod vSwitches have ${free} free IPs (${detail}), fewer than the ${f.plannedPods} pods planned; add a vSwitch to network.terway.vswitches` };
  if (empty.length > 0)
    return { id: 'alicloud/vswitch-ips', status: 'warn', reason: `${empty.join(', ')} has no free IP left (${detail}); Terway skips it` };
  return { id: 'alicloud/vswitch-ips', status: 'pass', reason: `${free} free IPs for ${f.plannedPods} planned pods (${detail})` };
}

export function terwayCloudChecks(f: TerwayCloudFacts): CheckResult[] {
  const results: CheckResult[] = [];
  results.push(
    f.podVSwitches.length === 0 && f.unknownVSwitches.length === 0
      ? { id: 'alicloud/vswitches', status: 'fail', reason: 'network.terway.vswitches names no vSwitch: Terway has nowhere to take pod IPs from (give <zone>: [vsw-…])' }
      : f.unknownVSwitches.length > 0
      ? { id: 'alicloud/vswitches', status: 'fail', reason: `network.terway.vswitches names ${f.unknownVSwitches.join(', ')}, which VPC ${f.vpcId} in ${f.regionId} does not have` }
      : { id: 'alicloud/vswitches', status: 'pass', reason: `pod vSwitches ${f.podVSwitches.map((v) => `${v.vswitchId} (${v.zoneId} ${v.cidr})`).join(', ')}` },
  );
  if (f.podVSwitches.length > 0) results.push(snatCheck(f), vswitchCapacityCheck(f));
  if (f.maxPods) {
    const m = f.maxPods;
    results.push(
      m.warning
        ? { id: 'alicloud/max-pods', status: m.podCapacity === 0 ? 'fail' : 'warn', reason: m.warning }
        : { id: 'alicloud/max-pods', status: 'pass', reason: `${m.instanceType}: ${m.podCapacity} Terway pods + ${m.hostNetworkPods.length} host-network pods = maxPods ${m.maxPods}` },
    );
  }
  if (f.credentials === 'ram-role')
    results.push(
      f.ramRole
        ? { id: 'alicloud/ram-role', status: 'pass', reason: `Terway uses the instance RAM role ${f.ramRole}` }
        : { id: 'alicloud/ram-role', status: 'fail', reason: 'Terway uses the instance RAM role (network.terway.credentials: ram-role), but this instance has none: attach one with the policy `knit alicloud ram-policy` prints, or set credentials: access-key' },
    );
  return results;
}

/** The check id of the VPC route to the external nodes' pods (hybrid clusters). */
export const HYBRID_ROUTE_CHECK = 'alicloud/hybrid-route';

export interface HybridRouteFacts {
  regionId: string;
  vpcId: string;
  /** The route the spec needs (src/cni/hybrid.ts): podSubnet, and the next hop when the spec names it. */
  route: HybridRoute;
  /** The vSwitches whose traffic must find the route: this node's, and the Terway pod vSwitches. */
  vswitchIds: string[];
  /** The VPC's route tables, each with its entries (read only for the tables that serve vswitchIds). */
  tables: (RouteTableInfo & { entries?: RouteEntryInfo[] })[];
}

const hopText = (e: RouteEntryInfo): string => e.nextHops.map((h) => `${h.type} ${h.id}`).join(', ') || 'no next hop';

/** Next hops that lead to the internet, never to the external nodes. */
const INTERNET_HOPS = new Set(['NatGateway', 'Ipv4Gateway']);

/**
 * Whether every route table serving the ECS side sends the external pods' CIDR towards them. What a
 * table does with podSubnet is its longest-prefix entry covering it: one for podSubnet itself, a wider
 * one (10.0.0.0/8 to the VPN), or the default route (to a NAT gateway: the internet, which is wrong).
 * With network.hybrid.nextHop the entry must lead there; without, anything but the default route or an
 * internet gateway counts. A missing entry warns with the exact `aliyun vpc CreateRouteEntry` line
 * (placeholders only for the next hop, when the spec does not name it).
 */
export function hybridRouteCheck(f: HybridRouteFacts): CheckResult {
  const pods = parseCidr(f.route.destinationCidr);
  const served = routeTablesServing(f.vswitchIds, f.tables);
  const where = { regionId: f.regionId, vpcId: f.vpcId };
  if (served.length === 0 || !pods)
    return { id: HYBRID_ROUTE_CHECK, status: 'warn', reason: `VPC ${f.vpcId} lists no route table for ${f.vswitchIds.join(', ')}; add the route to the table of each: ${createRouteEntryCommand(f.route, where)}` };
  // the VPC's own routes (its vSwitches, 100.64.0.0/10) cannot be overridden: a podSubnet inside them is unroutable
  const clash = served.flatMap(({ table }) => (table.entries ?? []).filter((e) => {
    const dest = parseCidr(e.destinationCidr);
    return e.type === 'System' && dest !== undefined && cidrsOverlap(dest, pods);
  }));
  if (clash.length > 0)
    return {
      id: HYBRID_ROUTE_CHECK,
      status: 'warn',
      reason: `kubernetes.podSubnet ${f.route.destinationCidr} overlaps the VPC's own route${clash.length > 1 ? 's' : ''} ${[...new Set(clash.map((e) => e.destinationCidr))].join(', ')} in ${f.vpcId}: no route entry can send it to the external nodes; choose a podSubnet outside the VPC's CIDR and 100.64.0.0/10`,
    };
  const want = f.route.nextHop;
  const missing: { routeTableId: string; now?: string }[] = [];
  const wrongHop: string[] = [];
  const found: string[] = [];
  for (const { table, vswitchIds } of served) {
    const effective = (table.entries ?? [])
      .map((e) => ({ e, dest: parseCidr(e.destinationCidr) }))
      .filter((x): x is { e: RouteEntryInfo; dest: NonNullable<typeof x.dest> } => x.dest !== undefined && cidrCovers(x.dest, pods))
      .sort((a, b) => b.dest.prefix - a.dest.prefix)[0];
    const what = `${table.routeTableId} (${table.routeTableType}, for ${vswitchIds.join(', ')})`;
    const now = effective ? `${effective.e.destinationCidr} to ${hopText(effective.e)}` : undefined;
    const leadsThere = effective !== undefined && (want
      ? effective.e.nextHops.some((h) => h.type === want.type && h.id === want.id)
      : effective.dest.prefix > 0 && effective.e.nextHops.length > 0 && !effective.e.nextHops.some((h) => INTERNET_HOPS.has(h.type)));
    if (leadsThere) found.push(`${what}: ${effective.e.destinationCidr} via ${hopText(effective.e)}${effective.e.status && effective.e.status !== 'Available' ? ` (${effective.e.status})` : ''}`);
    else if (effective && want && effective.dest.prefix === pods.prefix) wrongHop.push(`${what} sends ${now}, not to network.hybrid.nextHop ${want.type} ${want.id}`);
    else missing.push({ routeTableId: table.routeTableId, ...(now ? { now } : {}) });
  }
  if (missing.length > 0) {
    const commands = missing.map(({ routeTableId }) => createRouteEntryCommand(f.route, { regionId: f.regionId, routeTableId }));
    const help = placeholderHelp(commands[0]!, where);
    const now = missing.filter((m) => m.now).map((m) => `${m.routeTableId} sends it along ${m.now}`);
    return {
      id: HYBRID_ROUTE_CHECK,
      status: 'warn',
      reason:
        `ECS nodes and Terway pods cannot reach pods on external nodes (${f.route.destinationCidr}): no route towards them in ${missing.map((m) => m.routeTableId).join(', ')} of ${f.vpcId}` +
        `${now.length > 0 ? ` (${now.join('; ')})` : ''}; add it: ${commands.join('; ')}${help.length > 0 ? ` (${help.join('; ')})` : ''}`,
    };
  }
  if (wrongHop.length > 0) return { id: HYBRID_ROUTE_CHECK, status: 'warn', reason: `the route to pods on external nodes: ${wrongHop.join('; ')}` };
  return { id: HYBRID_ROUTE_CHECK, status: 'pass', reason: `the VPC routes pods on external nodes (${f.route.destinationCidr}): ${found.join('; ')}` };
}
