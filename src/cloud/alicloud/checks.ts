/**
 * The cloud side of a Terway cluster, checked before install: the pod vSwitches exist, a NAT gateway's
 * SNAT entry lets their pods reach the internet, they have addresses to spare, the instance type's
 * ENIs hold the planned pods, and Terway has credentials. Pure: the facts come from the ECS/VPC APIs
 * and the metadata service; the results join preflight's table.
 */
import type { CheckResult } from '../../preflight/types.js';
import { cidrCovers, parseCidr } from '../../spec/net.js';
import type { NatGatewayInfo, SnatEntryInfo, VSwitchInfo } from './api.js';
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
