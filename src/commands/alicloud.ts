/**
 * `knit alicloud …`: what an operator would otherwise look up by hand in the console for Terway:
 * `detect` (this instance, from the metadata service), `max-pods` (an instance type's Terway pod budget,
 * from the ECS API) and `ram-policy` (what the credentials need).
 */
import type { TerwayMode } from '../cloud/alicloud/max-pods.js';
import { ALICLOUD } from '../defaults.js';
import { NotFoundError, UsageError } from '../errors.js';
import type { CommandContext } from '../command-support/context.js';
import { detectEcs, openApi } from '../command-support/alicloud-facts.js';
import { specFromOptions } from '../command-support/spec-source.js';
import type { SpecOptions } from '../command-support/options.js';

export async function detect(_opts: unknown, ctx: CommandContext): Promise<number> {
  const { identity, notOnEcs } = await detectEcs(ctx);
  if (!identity) throw new NotFoundError(`not on ECS: ${notOnEcs}`, ['init and join take the node\'s addresses from --advertise-address and --public-ip instead']);
  ctx.out.json(identity);
  const rows: [string, string | undefined][] = [
    ['instance', identity.instanceId],
    ['type', identity.instanceType],
    ['region / zone', `${identity.regionId} / ${identity.zoneId}`],
    ['private IP', identity.privateIP],
    ['EIP', identity.publicIP ?? 'none'],
    ['VPC / vSwitch', `${identity.vpcId} / ${identity.vswitchId}${identity.vswitchCidr ? ` (${identity.vswitchCidr})` : ''}`],
    ['RAM role', identity.ramRole ?? 'none'],
  ];
  for (const [k, v] of rows) ctx.out.line(`${k.padEnd(14)} ${v}`);
  ctx.out.line(`kubelet: --provider-id=${identity.regionId}.${identity.instanceId}, topology.kubernetes.io/zone=${identity.zoneId}, node.kubernetes.io/instance-type=${identity.instanceType}`);
  return 0;
}

export interface MaxPodsOptions extends SpecOptions {
  instanceType?: string[];
  mode?: string;
  region?: string;
  podsPerNode?: string;
}

export async function maxPods(opts: MaxPodsOptions, ctx: CommandContext): Promise<number> {
  // commander has checked --mode and --role against their choices
  const mode = (opts.mode ?? 'eniip') as TerwayMode;
  const role = opts.role ?? 'worker';
  const podsPerNode = opts.podsPerNode === undefined ? undefined : Number(opts.podsPerNode);
  if (podsPerNode !== undefined && !(Number.isInteger(podsPerNode) && podsPerNode > 0))
    throw new UsageError(`--pods-per-node: ${JSON.stringify(opts.podsPerNode)} is not a positive whole number`);
  const spec = opts.config !== undefined ? (await specFromOptions({ config: opts.config }, ctx)).spec : undefined;
  const detected = opts.instanceType?.length && (opts.region ?? spec?.alicloud?.region) ? {} : await detectEcs(ctx);
  const types = opts.instanceType?.length ? opts.instanceType : detected.identity ? [detected.identity.instanceType] : undefined;
  if (!types) throw new UsageError(`--instance-type: required off ECS (${detected.notOnEcs})`);
  const regionId = opts.region ?? spec?.alicloud?.region ?? detected.identity?.regionId;
  if (!regionId) throw new UsageError(`--region: required off ECS (${detected.notOnEcs})`);

  const api = await openApi(ctx, regionId, spec);
  const { planMaxPods } = await import('../cloud/alicloud/max-pods.js');
  const limits = await api.describeInstanceTypes(types);
  const unknown = types.filter((t) => !limits.some((l) => l.instanceType === t));
  if (unknown.length > 0) throw new UsageError(`--instance-type: ECS does not know ${unknown.join(', ')} in ${regionId}`);
  const plans = types.map((t) => {
    const l = limits.find((x) => x.instanceType === t)!;
    return { limits: l, plan: planMaxPods(l, mode, role, podsPerNode ?? spec?.network.terway.podsPerNode ?? ALICLOUD.defaultPodsPerNode) };
  });

  ctx.out.json(plans.map(({ limits: l, plan }) => ({ ...plan, eniQuantity: l.eniQuantity, eniPrivateIpAddressQuantity: l.eniPrivateIpAddressQuantity })));
  const header = ['instance type', 'ENIs', 'IPs/ENI', 'mode', 'Terway pods', 'host-network', 'maxPods'];
  const rows = plans.map(({ limits: l, plan }) => [l.instanceType, String(l.eniQuantity), String(l.eniPrivateIpAddressQuantity), mode, String(plan.podCapacity), String(plan.hostNetworkPods.length), String(plan.maxPods)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) ctx.out.line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  ctx.out.line(`(${mode === 'eni' ? 'exclusive ENI: ENIs − 1' : 'shared ENI: (ENIs − 1) × IPs per ENI'}; host-network pods on a ${role}: ${plans[0]!.plan.hostNetworkPods.join(', ')})`);
  for (const { plan } of plans) if (plan.warning) ctx.out.line(`warning: ${plan.warning}`);
  return 0;
}

export async function ramPolicy(opts: { terwayOnly?: boolean }, ctx: CommandContext): Promise<number> {
  const { ramPolicy: policy } = await import('../cloud/alicloud/ram-policy.js');
  // the policy document is the output in both formats: paste it into the RAM console or `aliyun ram CreatePolicy`
  ctx.out.raw(`${JSON.stringify(policy(opts.terwayOnly ? 'terway' : 'all'), null, 2)}\n`);
  return 0;
}
