/**
 * Hybrid clusters: Terway on the ECS nodes, Flannel or Calico on the nodes marked `external` (outside
 * Alibaba Cloud, joined to the VPC over a VPN gateway, Express Connect or a gateway instance). Pure.
 *
 * The two sides are not symmetric. Terway pods hold VPC addresses (from the pod vSwitches), which every
 * node reaches: the external side already routes the VPC through its link. Pods on external nodes hold
 * addresses from kubernetes.podSubnet (one /24 per node, assigned by kube-controller-manager when the
 * node registers), which the VPC does not know: ECS nodes and Terway pods reach them only once the
 * VPC's route table sends podSubnet to the link. Until then a Service whose endpoint is on an external
 * node (a CoreDNS replica, a webhook, metrics-server) fails from the VPC side. So:
 * - CoreDNS, which kubeadm creates, gets a required node affinity that keeps it off external nodes
 *   (step `cni/coredns-placement`); every external node reaches it at a VPC address;
 * - knit prints the VPC route entry the operator adds (it needs a next hop inside the VPC, which only
 *   the operator knows: network.hybrid.nextHop), and `knit doctor` checks it through the VPC API.
 */
import { CNI, PATHS } from '../defaults.js';
import type { Step } from '../runner/types.js';
import type { Spec } from '../spec/schema.js';

export const isHybrid = (spec: Pick<Spec, 'network'>): boolean => spec.network.hybrid !== undefined;

/** The Deployment kubeadm creates for cluster DNS. */
export const COREDNS = { namespace: 'kube-system', name: 'coredns' } as const;

/**
 * Required node affinity for the VPC side: nodes whose external label is not `true` (NotIn also matches
 * nodes without the label, i.e. every ECS node), the selector the CNI DaemonSets of the cloud side use.
 */
export const vpcSideNodeAffinity = () => ({
  requiredDuringSchedulingIgnoredDuringExecution: {
    nodeSelectorTerms: [{ matchExpressions: [{ key: CNI.externalNodeLabel, operator: 'NotIn', values: ['true'] }] }],
  },
});

/**
 * A strategic-merge patch of a Deployment's pod template. `affinity` merges as a map, so kubeadm's
 * podAntiAffinity for CoreDNS stays; `nodeSelectorTerms` has no merge key and is replaced whole, so
 * applying the patch again changes nothing. Tolerations are left alone: knit taints no node.
 */
export const vpcSidePlacementPatch = (): string =>
  JSON.stringify({ spec: { template: { spec: { affinity: { nodeAffinity: vpcSideNodeAffinity() } } } } });

/** CreateRouteEntry's next hop for the external pods, as the spec names it. */
export type HybridNextHop = NonNullable<NonNullable<Spec['network']['hybrid']>['nextHop']>;

/** What the operator fills in where knit cannot know the value. */
export const ROUTE_PLACEHOLDERS = {
  region: '<REGION_ID>',
  routeTable: '<ROUTE_TABLE_ID>',
  nextHopType: '<NEXT_HOP_TYPE>',
  nextHopId: '<NEXT_HOP_ID>',
  vpc: '<VPC_ID>',
} as const;

/** The name knit gives the entry (RouteEntryName), so that it is found again. */
export const ROUTE_ENTRY_NAME = 'knit-external-pods';

export interface HybridRoute {
  /** kubernetes.podSubnet: every external node's pod CIDR lies in it, and no Terway pod uses it. */
  destinationCidr: string;
  nextHop?: HybridNextHop;
}

/** The one route the VPC needs for a hybrid spec; undefined for any other spec. */
export function hybridRoute(spec: Spec): HybridRoute | undefined {
  const hybrid = spec.network.hybrid;
  if (!hybrid) return undefined;
  return { destinationCidr: spec.kubernetes.podSubnet, ...(hybrid.nextHop ? { nextHop: hybrid.nextHop } : {}) };
}

/**
 * The `aliyun vpc CreateRouteEntry` line for one route table; placeholders where the value is unknown
 * (the region without alicloud.region, the table offline, the next hop without network.hybrid.nextHop).
 */
export function createRouteEntryCommand(route: HybridRoute, where: { regionId?: string; routeTableId?: string }): string {
  return [
    'aliyun vpc CreateRouteEntry',
    `--RegionId ${where.regionId ?? ROUTE_PLACEHOLDERS.region}`,
    `--RouteTableId ${where.routeTableId ?? ROUTE_PLACEHOLDERS.routeTable}`,
    `--DestinationCidrBlock ${route.destinationCidr}`,
    `--NextHopType ${route.nextHop?.type ?? ROUTE_PLACEHOLDERS.nextHopType}`,
    `--NextHopId ${route.nextHop?.id ?? ROUTE_PLACEHOLDERS.nextHopId}`,
    `--RouteEntryName ${ROUTE_ENTRY_NAME}`,
  ].join(' ');
}

/** Which placeholders a command holds, said for the operator (with the region and VPC where known). */
export function placeholderHelp(command: string, where: { regionId?: string; vpcId?: string } = {}): string[] {
  const help: string[] = [];
  if (command.includes(ROUTE_PLACEHOLDERS.region)) help.push(`${ROUTE_PLACEHOLDERS.region}: the VPC's region (alicloud.region)`);
  if (command.includes(ROUTE_PLACEHOLDERS.routeTable))
    help.push(
      `${ROUTE_PLACEHOLDERS.routeTable}: each route table that serves the ECS nodes' and the Terway pod vSwitches ` +
        `(aliyun vpc DescribeRouteTableList --RegionId ${where.regionId ?? ROUTE_PLACEHOLDERS.region} --VpcId ${where.vpcId ?? ROUTE_PLACEHOLDERS.vpc}; the System table unless a vSwitch is bound to a custom one)`,
    );
  if (command.includes(ROUTE_PLACEHOLDERS.nextHopType))
    help.push(`${ROUTE_PLACEHOLDERS.nextHopType} ${ROUTE_PLACEHOLDERS.nextHopId}: what reaches the external nodes from the VPC (VpnGateway vpn-…, RouterInterface ri-… of an Express Connect circuit, Instance i-… of a gateway); set network.hybrid.nextHop`);
  return help;
}

/** The init plan's note: the route the VPC needs, one line. */
export function hybridRouteNote(spec: Spec): string | undefined {
  const route = hybridRoute(spec);
  if (!route) return undefined;
  const where = spec.alicloud?.region ? { regionId: spec.alicloud.region } : {};
  const command = createRouteEntryCommand(route, where);
  const help = placeholderHelp(command, where);
  return (
    `ECS nodes and Terway pods reach pods on external nodes (${route.destinationCidr}) only through a VPC route: ${command}` +
    ` (${[...help, "the external side must route each node's pod CIDR to that node", 'knit doctor checks the entry'].join('; ')})`
  );
}

/**
 * After the CNI: CoreDNS (created by kubeadm init) gets the VPC side's node affinity, so that every
 * node, ECS or external, reaches cluster DNS at a VPC address. None outside hybrid clusters.
 */
export function corednsPlacementSteps(spec: Spec, kubeconfig: string = PATHS.adminConf): Step[] {
  if (!isHybrid(spec)) return [];
  const note = hybridRouteNote(spec);
  return [{
    id: 'cni/coredns-placement',
    title: 'Keep CoreDNS on the VPC side (required node affinity: not on external nodes)',
    effects: [{
      kind: 'exec',
      argv: ['kubectl', '--kubeconfig', kubeconfig, '--namespace', COREDNS.namespace, 'patch', 'deployment', COREDNS.name, '--type', 'strategic', '--patch', vpcSidePlacementPatch()],
    }],
    ...(note ? { note } : {}),
  }];
}

/** Which route table carries each vSwitch's traffic: the custom table it is bound to, else the VPC's System table. */
export function routeTablesServing<T extends { routeTableId: string; routeTableType: string; vSwitchIds: string[] }>(
  vswitchIds: readonly string[],
  tables: readonly T[],
): { table: T; vswitchIds: string[] }[] {
  const system = tables.find((t) => t.routeTableType === 'System');
  const out = new Map<string, { table: T; vswitchIds: string[] }>();
  for (const id of [...new Set(vswitchIds)]) {
    const table = tables.find((t) => t.routeTableType !== 'System' && t.vSwitchIds.includes(id)) ?? system;
    if (!table) continue;
    const seen = out.get(table.routeTableId) ?? { table, vswitchIds: [] };
    seen.vswitchIds.push(id);
    out.set(table.routeTableId, seen);
  }
  return [...out.values()];
}
