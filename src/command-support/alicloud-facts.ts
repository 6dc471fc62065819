/**
 * What init, join and preflight learn from Alibaba Cloud before they change anything: the instance's
 * identity from the metadata service, and for Terway the node's security groups, its instance type's
 * ENI limits, the pod vSwitches and the VPC's SNAT entries from the ECS and VPC APIs. A credentials or
 * API failure stops a Terway command here, with nothing changed. A node with peers in other VPCs, for
 * any CNI, also gets its security groups' rules for the overlay's ports checked; that check only
 * warns, also when the cloud cannot be asked.
 */
import type { AlicloudApi, ApiEndpoints } from '../cloud/alicloud/api.js';
import type { TerwayCloudFacts } from '../cloud/alicloud/checks.js';
import type { ResolvedCredentials } from '../cloud/alicloud/credentials.js';
import type { MaxPods } from '../cloud/alicloud/max-pods.js';
import { MetadataClient, type EcsIdentity } from '../cloud/alicloud/metadata.js';
import { CloudError, UsageError } from '../errors.js';
import { hasPeersOutsideVpc } from '../crossvpc/peers.js';
import type { DetectedHost } from '../spec/load.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import type { CheckResult } from '../preflight/types.js';
import type { CommandContext } from './context.js';
import type { SpecOptions } from './options.js';
import { specFromOptions } from './spec-source.js';

export const metadataClient = (ctx: Pick<CommandContext, 'env'>): MetadataClient =>
  new MetadataClient(ctx.env.KNIT_ECS_METADATA_URL || undefined);

export interface HostIdentity {
  identity?: EcsIdentity;
  /** Why the metadata service gave nothing (off ECS), said once to the user. */
  notOnEcs?: string;
}

/** The ECS identity of this host, or why there is none; at most ~1 s off ECS. */
export async function detectEcs(ctx: Pick<CommandContext, 'env'>): Promise<HostIdentity> {
  return metadataClient(ctx).identity();
}

export const detectedHost = (id: EcsIdentity): DetectedHost => ({
  privateIP: id.privateIP,
  ...(id.publicIP ? { publicIP: id.publicIP } : {}),
  instanceId: id.instanceId,
  instanceType: id.instanceType,
  zoneId: id.zoneId,
  regionId: id.regionId,
  vswitchId: id.vswitchId,
  vpcId: id.vpcId,
});

/** The API endpoints: $KNIT_ALICLOUD_ENDPOINT (both APIs; $KNIT_ALICLOUD_VPC_ENDPOINT for VPC alone), else the spec. */
function apiEndpoints(spec: Pick<Spec, 'alicloud'> | undefined, env: NodeJS.ProcessEnv): ApiEndpoints {
  const ecs = env.KNIT_ALICLOUD_ENDPOINT || spec?.alicloud?.endpoint;
  const vpc = env.KNIT_ALICLOUD_VPC_ENDPOINT || env.KNIT_ALICLOUD_ENDPOINT || spec?.alicloud?.vpcEndpoint;
  return { ...(ecs ? { ecs } : {}), ...(vpc ? { vpc } : {}) };
}

async function credentialsFor(ctx: CommandContext): Promise<ResolvedCredentials> {
  const { resolveCredentials } = await import('../cloud/alicloud/credentials.js');
  return resolveCredentials(metadataClient(ctx), ctx.env);
}

export async function openApi(ctx: CommandContext, regionId: string, spec?: Pick<Spec, 'alicloud'>): Promise<AlicloudApi> {
  const [{ AlicloudApi }, credentials] = await Promise.all([import('../cloud/alicloud/api.js'), credentialsFor(ctx)]);
  ctx.out.note(`Alibaba Cloud credentials: ${credentials.source} (AccessKey ${credentials.accessKeyId.slice(0, 8)}…)`);
  const timeoutMs = Number(ctx.env.KNIT_ALICLOUD_TIMEOUT_MS) || undefined;
  return new AlicloudApi({ regionId, credentials, endpoints: apiEndpoints(spec, ctx.env), ...(timeoutMs ? { timeoutMs } : {}) });
}

export interface TerwayCloud {
  facts: TerwayCloudFacts & { maxPods: MaxPods };
  securityGroupIds: string[];
}

/** The Terway facts for this node, from the ECS and VPC APIs. Needs the node's ECS identity. */
export async function terwayCloud(spec: Spec, node: NodeSpec, identity: EcsIdentity | undefined, ctx: CommandContext): Promise<TerwayCloud> {
  const regionId = spec.alicloud?.region ?? identity?.regionId;
  const instanceId = node.instanceId ?? identity?.instanceId;
  if (!regionId || !instanceId)
    throw new UsageError(`nodes: ${node.name} needs instanceId and alicloud.region for Terway (detected on ECS; give them in the spec elsewhere)`);
  const api = await openApi(ctx, regionId, spec);
  const { planMaxPods } = await import('../cloud/alicloud/max-pods.js');
  const instance = await api.describeInstance(instanceId);
  const instanceType = instance.instanceType;
  if (node.instanceType !== undefined && node.instanceType !== instanceType)
    throw new UsageError(`nodes: ${node.name} is ${node.instanceType} in the spec, but ECS says ${instanceId} is ${instanceType}`);
  const [limits] = await api.describeInstanceTypes([instanceType]);
  if (!limits) throw new UsageError(`nodes: ${node.name}: ECS does not know instance type ${instanceType}`);
  const wanted = [...new Set(Object.values(spec.network.terway.vswitches).flat())];
  const podVSwitches = await api.describeVSwitches(instance.vpcId, wanted);
  const { natGateways, entries } = await api.snatEntries(instance.vpcId);
  const maxPods = planMaxPods(limits, spec.network.terway.mode, node.role, spec.network.terway.podsPerNode);
  const terwayNodes = spec.nodes.filter((n) => !n.external).length;
  return {
    securityGroupIds: instance.securityGroupIds,
    facts: {
      regionId,
      vpcId: instance.vpcId,
      podVSwitches,
      unknownVSwitches: wanted.filter((id) => !podVSwitches.some((v) => v.vswitchId === id)),
      natGateways,
      snatEntries: entries,
      maxPods,
      plannedPods: spec.network.terway.podsPerNode * terwayNodes,
      credentials: spec.network.terway.credentials,
      ...(identity?.ramRole ? { ramRole: identity.ramRole } : {}),
    },
  };
}

/** The spec with what the API found filled in where the spec is silent: security groups, this node's maxPods, the VPC id. */
export function withTerwayFacts(spec: Spec, nodeName: string, cloud: TerwayCloud): Spec {
  const terway = spec.network.terway;
  return {
    ...spec,
    network: { ...spec.network, terway: { ...terway, securityGroups: terway.securityGroups.length > 0 ? terway.securityGroups : cloud.securityGroupIds } },
    // exclusive ENI mode: terway-controlplane needs the VPC id (the region it reads from the metadata service)
    alicloud: { ...spec.alicloud, vpcId: spec.alicloud?.vpcId ?? cloud.facts.vpcId },
    nodes: spec.nodes.map((n) => (n.name === nodeName && n.maxPods === undefined ? { ...n, maxPods: cloud.facts.maxPods.maxPods } : n)),
  };
}

export interface NodeSpecOnHost {
  spec: Spec;
  node: NodeSpec;
  /** The cloud checks for the preflight table: Terway's (SNAT, vSwitch IPs, ENI budget, RAM role), the overlay's security groups. */
  cloudChecks: CheckResult[];
}

/**
 * init and join: the spec from --config and flags, this host's ECS facts filling what they leave out,
 * and for Terway what the ECS/VPC APIs say. Off ECS the metadata service's silence is said once.
 */
export async function specOnHost(opts: SpecOptions & { dryRun?: boolean }, ctx: CommandContext): Promise<NodeSpecOnHost> {
  const { identity, notOnEcs } = await detectEcs(ctx);
  if (identity)
    ctx.out.note(`ECS instance ${identity.instanceId} (${identity.instanceType}) in ${identity.zoneId}: private IP ${identity.privateIP}, ${identity.publicIP ? `EIP ${identity.publicIP}` : 'no EIP'}`);
  // information, not a problem: why the metadata service gave nothing is for --debug (and `knit alicloud detect`)
  else ctx.out.note(`not on ECS: using the spec and flags only${(opts as { debug?: boolean }).debug ? ` (${notOnEcs})` : ''}`);
  const loaded = await specFromOptions(opts, ctx, identity && detectedHost(identity));
  let spec = loaded.spec;
  let node = spec.nodes.find((n) => n.name === loaded.localNode)!;
  if (identity && node.instanceId !== undefined && node.instanceId !== identity.instanceId)
    throw new UsageError(`nodes: ${node.name} is instance ${node.instanceId} in the spec, but this host is ${identity.instanceId}; name this host's node with --node-name`);
  // the preflight phase, where these count, does not run in a dry run
  const groups = opts.dryRun ? [] : await securityGroupChecks(spec, node, identity, ctx);
  // init and join show preflight's table only when a check fails: a warning is said here, before the plan
  for (const r of groups) if (r.status === 'warn') ctx.out.note(`warning: ${r.id}: ${r.reason}`);
  const hostOnly = { spec, node, cloudChecks: groups };
  if (spec.network.plugin !== 'terway' || node.external) return hostOnly;
  if (opts.dryRun && !identity && !(node.instanceId && spec.alicloud?.region)) {
    // a preview off ECS stays offline; a real run asks the APIs (and fails here without them)
    ctx.out.note('dry run off ECS: security groups and maxPods would come from the ECS API; the plan shows the spec as given');
    return hostOnly;
  }
  const cloud = await terwayCloud(spec, node, identity, ctx);
  spec = withTerwayFacts(spec, node.name, cloud);
  node = spec.nodes.find((n) => n.name === node.name)!;
  const { terwayCloudChecks } = await import('../cloud/alicloud/checks.js');
  return { spec, node, cloudChecks: [...terwayCloudChecks(cloud.facts), ...groups] };
}

/** `knit preflight` with Terway: the cloud checks for this host, or one warning when it is not an ECS instance. */
export async function terwayChecksForHost(spec: Spec, nodeName: string, ctx: CommandContext): Promise<CheckResult[]> {
  const { identity, notOnEcs } = await detectEcs(ctx);
  if (!identity)
    return [{ id: 'alicloud/ecs', status: 'warn', reason: `Terway runs only on ECS instances, and this host does not look like one (${notOnEcs}); the cloud checks were skipped` }];
  const cloud = await terwayCloud(spec, spec.nodes.find((n) => n.name === nodeName)!, identity, ctx);
  const { terwayCloudChecks } = await import('../cloud/alicloud/checks.js');
  return terwayCloudChecks(cloud.facts);
}

/**
 * The overlay's ports in this instance's security groups (src/cloud/alicloud/security-groups.ts), for
 * a node with peers in other VPCs, any CNI; none off ECS. Credentials or API failures become the
 * check's warning: a flannel cluster does not need the cloud's API, so its absence must not stop one.
 * Reads DescribeInstances, then DescribeSecurityGroupAttribute per group, and the VPC's CIDR from the
 * metadata service.
 */
export async function securityGroupChecks(spec: Spec, node: NodeSpec, identity: EcsIdentity | undefined, ctx: CommandContext): Promise<CheckResult[]> {
  if (!identity || !hasPeersOutsideVpc(spec, node)) return [];
  const [{ cniNeeds }, sg, { CloudApiError }] = await Promise.all([
    import('../cni/index.js'),
    import('../cloud/alicloud/security-groups.js'),
    import('../cloud/alicloud/api.js'),
  ]);
  const overlay = cniNeeds(spec);
  if (overlay.length === 0) return [];
  // preflight and doctor take the node from --node-name: this host's groups say nothing about another node
  if ((node.instanceId ?? identity.instanceId) !== identity.instanceId || node.privateIP !== identity.privateIP)
    return [{
      id: sg.SECURITY_GROUP_CHECK,
      status: 'warn',
      reason: `not checked: this host is ${identity.instanceId} (${identity.privateIP}), not ${node.name} (${node.instanceId ?? node.privateIP}); run it on ${node.name}, or name this host's node with --node-name`,
    }];
  // before the SDK loads: loading it holds the event loop for longer than the metadata service's timeout
  const vpcCidr = await metadataClient(ctx).get('vpc-cidr-block').catch(() => undefined);
  try {
    // this host's groups: the region is the instance's own
    const api = await openApi(ctx, identity.regionId, spec);
    const instance = await api.describeInstance(identity.instanceId);
    const groups = [];
    for (const id of instance.securityGroupIds) groups.push(await api.describeSecurityGroup(id));
    return [
      sg.securityGroupCheck({
        regionId: identity.regionId,
        instanceId: identity.instanceId,
        groups,
        overlay,
        ...sg.overlaySenders(spec, node.name),
        ...(vpcCidr ? { vpcCidr } : {}),
      }),
    ];
  } catch (e) {
    if (!(e instanceof CloudError || e instanceof CloudApiError)) throw e;
    return [sg.unreadSecurityGroups(identity.instanceId, overlay, e.message)];
  }
}

/** `knit preflight` and `knit doctor`: the same check for the node of the spec this host is. */
export async function securityGroupChecksForHost(spec: Spec, nodeName: string, ctx: CommandContext): Promise<CheckResult[]> {
  const node = spec.nodes.find((n) => n.name === nodeName)!;
  // alone in its VPC: nothing to ask, not even the metadata service
  if (!hasPeersOutsideVpc(spec, node)) return [];
  return securityGroupChecks(spec, node, (await detectEcs(ctx)).identity, ctx);
}
