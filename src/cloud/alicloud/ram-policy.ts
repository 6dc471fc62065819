/**
 * The RAM policy for the credentials Terway runs with (the instance RAM role, or the AccessKey in
 * its Secret), as Terway's own docs give it, plus the read-only calls knit makes itself to size and
 * check a Terway cluster and, across VPCs, the overlay's security-group rules. Pure data.
 */

/**
 * What terwayd calls: ENIs and their addresses (IPv4 and IPv6), instance-type limits, vSwitches. In
 * exclusive ENI mode terway-controlplane (same credentials: the instance RAM role or the AccessKey)
 * creates, attaches, detaches, describes and deletes the pods' ENIs and reads the vSwitches: a subset
 * (its aliyun client at v1.16.7 calls nothing else on ECS).
 */
export const TERWAY_ACTIONS = {
  ecs: [
    'CreateNetworkInterface',
    'DescribeNetworkInterfaces',
    'AttachNetworkInterface',
    'DetachNetworkInterface',
    'DeleteNetworkInterface',
    'DescribeInstanceTypes',
    'AssignPrivateIpAddresses',
    'UnassignPrivateIpAddresses',
    'AssignIpv6Addresses',
    'UnassignIpv6Addresses',
  ],
  vpc: ['DescribeVSwitches'],
} as const;

/**
 * What knit reads: the node's security groups and their inbound rules (the overlay's ports across
 * VPCs), its vSwitch, ENI limits, the NAT gateways' SNAT entries, and in hybrid clusters the route
 * tables (the route to the external nodes' pods).
 */
export const KNIT_ACTIONS = {
  ecs: ['DescribeInstances', 'DescribeInstanceTypes', 'DescribeSecurityGroupAttribute'],
  vpc: ['DescribeVSwitches', 'DescribeNatGateways', 'DescribeSnatTableEntries', 'DescribeRouteTableList', 'DescribeRouteEntryList'],
} as const;

interface Statement {
  Action: string[];
  Resource: string[];
  Effect: 'Allow';
}

const statement = (actions: { ecs: readonly string[]; vpc: readonly string[] }): Statement => ({
  Action: [...actions.ecs.map((a) => `ecs:${a}`), ...actions.vpc.map((a) => `vpc:${a}`)],
  Resource: ['*'],
  Effect: 'Allow',
});

/** Terway's statement, then one for what knit adds (actions Terway already has are not repeated). */
export function ramPolicy(scope: 'terway' | 'all' = 'all'): { Version: '1'; Statement: Statement[] } {
  const extra = {
    ecs: KNIT_ACTIONS.ecs.filter((a) => !(TERWAY_ACTIONS.ecs as readonly string[]).includes(a)),
    vpc: KNIT_ACTIONS.vpc.filter((a) => !(TERWAY_ACTIONS.vpc as readonly string[]).includes(a)),
  };
  return { Version: '1', Statement: [statement(TERWAY_ACTIONS), ...(scope === 'all' ? [statement(extra)] : [])] };
}
