/**
 * Hybrid clusters: whether the VPC routes the external nodes' pods (kubernetes.podSubnet) towards them,
 * read from the VPC API (DescribeRouteTableList, DescribeRouteEntryList) and judged by the pure check
 * in src/cloud/alicloud/checks.ts. Asked from an ECS node (its region, VPC and vSwitch come from the
 * metadata service); elsewhere, or without credentials, the answer is why it was not asked, with the
 * command the operator runs.
 */
import { createRouteEntryCommand, hybridRoute, routeTablesServing } from '../cni/hybrid.js';
import { CloudError } from '../errors.js';
import type { CheckResult } from '../preflight/types.js';
import type { Spec } from '../spec/schema.js';
import { detectEcs, openApi } from './alicloud-facts.js';
import type { CommandContext } from './context.js';

export type HybridRouteOutcome = CheckResult | { error: string };

/** Undefined outside hybrid clusters. */
export async function hybridRouteCheckForHost(spec: Spec, ctx: CommandContext): Promise<HybridRouteOutcome | undefined> {
  const route = hybridRoute(spec);
  if (!route) return undefined;
  const { identity } = await detectEcs(ctx);
  const regionId = spec.alicloud?.region ?? identity?.regionId;
  const command = createRouteEntryCommand(route, regionId ? { regionId } : {});
  if (!identity) return { error: `not asked: this host is not an ECS instance (run knit doctor on an ECS node of the cluster to read its VPC's route tables); the route needed: ${command}` };
  try {
    const [api, { hybridRouteCheck }] = await Promise.all([openApi(ctx, identity.regionId, spec), import('../cloud/alicloud/checks.js')]);
    const vswitchIds = [identity.vswitchId, ...Object.values(spec.network.terway.vswitches).flat()];
    const tables = await api.routeTables(identity.vpcId);
    const serving = new Set(routeTablesServing(vswitchIds, tables).map((s) => s.table.routeTableId));
    const withEntries = [];
    // only the tables that carry the ECS side's traffic: a VPC may hold many
    for (const t of tables) withEntries.push(serving.has(t.routeTableId) ? { ...t, entries: await api.routeEntries(t.routeTableId) } : t);
    return hybridRouteCheck({ regionId: identity.regionId, vpcId: identity.vpcId, route, vswitchIds, tables: withEntries });
  } catch (e) {
    const { CloudApiError } = await import('../cloud/alicloud/api.js');
    if (!(e instanceof CloudError || e instanceof CloudApiError)) throw e;
    return { error: `not asked: ${e.message.split('\n')[0]}; the route needed: ${command}` };
  }
}
