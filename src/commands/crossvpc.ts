/**
 * `knit crossvpc apply|status|remove`: the NAT mapping that lets nodes in different VPCs reach each
 * other's private IPs through their public IPs. Reads host facts, plans (pure, src/crossvpc), then
 * prints the plan (--dry-run) or runs it.
 */
import { findNode, needsPublicIp, peersOutsideVpc } from '../crossvpc/peers.js';
import { isIPv4, isPublicIPv4 } from '../spec/net.js';
import { METRICS_SERVER, type MetricsServerFacts } from '../crossvpc/metrics-server.js';
import { crossVpcPlanTitle, planCrossVpcApply, planCrossVpcRemove, type CrossVpcFacts, type CrossVpcRemoveFacts } from '../crossvpc/plan.js';
import { diffCrossVpcState, inSync } from '../crossvpc/state.js';
import { crossVpcRuleSet, renderCrossVpcRules } from '../crossvpc/rules.js';
import { CROSSVPC, PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { metadataClient } from './alicloud-facts.js';
import { OFFLINE_CROSSVPC_FACTS } from '../plan/init.js';
import type { Spec } from '../spec/schema.js';
import type { Exec } from '../host/exec.js';
import { detectIptablesBackend, readCrossVpcState } from '../host/iptables.js';
import { isSkipped } from '../runner/skip.js';
import type { Step } from '../runner/types.js';
import type { CommandContext } from './context.js';
import { executePlan } from './execute-plan.js';
import type { SpecOptions } from './options.js';
import { specFromOptions } from './spec-source.js';

export type CrossVpcAction = 'apply' | 'status' | 'remove';

export interface CrossVpcOptions {
  /** Step ids (or groups) not to run. */
  skip?: string[];
  /** kubectl's kubeconfig; default $KUBECONFIG, then admin.conf, then kubelet.conf. */
  kubeconfig?: string;
}

type Options = CrossVpcOptions & SpecOptions & { dryRun?: boolean };

const OWNER = 'crossvpc';

/** The real path of the first kubeconfig that exists (kubectl runs outside the host root's mapping). */
export async function findKubeconfig(opts: Options, ctx: CommandContext): Promise<string | undefined> {
  const explicit = opts.kubeconfig ?? ctx.env.KUBECONFIG;
  if (explicit) return explicit;
  for (const p of [PATHS.adminConf, PATHS.kubeletConf]) if (await ctx.files.exists(p)) return ctx.files.path(p);
  return undefined;
}

/** metrics-server's container args; undefined when it is not installed or the cluster cannot be asked. */
export async function readMetricsServer(exec: Exec, kubeconfig: string, note: (s: string) => void): Promise<MetricsServerFacts | undefined> {
  const { namespace, name } = METRICS_SERVER;
  const r = await exec(['kubectl', '--kubeconfig', kubeconfig, '--namespace', namespace, 'get', 'deployment', name, '--ignore-not-found', '-o', 'json'])
    .catch((e: Error) => ({ exitCode: 127, stdout: '', stderr: e.message }));
  if (r.exitCode !== 0) return void note(`could not look for metrics-server (${r.stderr.trim().split('\n')[0]}); its patch is left out`);
  if (r.stdout.trim() === '') return undefined;
  type Container = { name: string; args?: string[] };
  const containers = (JSON.parse(r.stdout) as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers;
  const c = containers.find((x) => x.name === name) ?? containers[0];
  return c && { container: c.name, args: c.args ?? [] };
}

/**
 * The local node's public IP, when the spec lacks it and peers outside its VPC need it: its EIP from
 * the ECS metadata service (`eipv4`). Returns the spec unchanged otherwise.
 */
export async function withDetectedPublicIp(spec: Spec, node: string, ctx: CommandContext): Promise<Spec> {
  if (!needsPublicIp(spec, node)) return spec;
  const { ip, error } = await metadataClient(ctx).eip();
  if (ip === undefined || !isIPv4(ip) || !isPublicIPv4(ip)) {
    ctx.out.note(`note: no public IP for ${node} from metadata: ${error ?? (ip ? `eipv4 is ${ip}, not a public IPv4 address` : 'the instance has no EIP')}`);
    return spec; // peersOutsideVpc then names the missing field
  }
  ctx.out.note(`${node}: public IP ${ip} (the EIP, from the ECS metadata service)`);
  return { ...spec, nodes: spec.nodes.map((n) => (n.name === node ? { ...n, publicIP: ip } : n)) };
}

/**
 * For init/join: the host's iptables facts when they can be read; else (a dry run without root) the
 * offline assumption, said as a note. Only asked when the node has peers in other VPCs.
 */
export async function hostCrossVpcFacts(spec: Spec, node: string, ctx: CommandContext): Promise<CrossVpcFacts | undefined> {
  if (peersOutsideVpc(spec, node).length === 0) return undefined;
  try {
    const [backend, state] = await Promise.all([detectIptablesBackend(ctx.exec), readCrossVpcState(ctx.exec)]);
    return { backend, state };
  } catch (e) {
    ctx.out.note(`note: cannot read iptables here (${(e as Error).message.split('\n')[0]}); planning for a fresh nf_tables host`);
    return OFFLINE_CROSSVPC_FACTS;
  }
}

async function gatherApplyFacts(opts: Options, ctx: CommandContext): Promise<CrossVpcFacts> {
  const kubeconfig = await findKubeconfig(opts, ctx);
  const [backend, state, metricsServer] = await Promise.all([
    detectIptablesBackend(ctx.exec),
    readCrossVpcState(ctx.exec),
    kubeconfig ? readMetricsServer(ctx.exec, kubeconfig, ctx.out.note) : undefined,
  ]);
  return { backend, state, kubeconfig, metricsServer };
}

async function runSteps(title: string, steps: Step[], opts: Options, ctx: CommandContext, kubeconfig?: string): Promise<number> {
  const skip = new Set(opts.skip ?? []);
  const needsKubectl = steps.some((s) => !isSkipped(s.id, skip) && s.effects.some((e) => e.kind.startsWith('kube-')));
  if (!opts.dryRun && needsKubectl && !kubeconfig)
    throw new UsageError(
      `--kubeconfig: the kube-* steps need one (looked for $KUBECONFIG, ${PATHS.adminConf}, ${PATHS.kubeletConf}); ` +
        'or --skip crossvpc/annotate to set the annotation later',
    );
  const results = await executePlan(ctx, { title, steps, skip: opts.skip, dryRun: opts.dryRun, owner: OWNER, kubeconfig });
  if (!results) return 0;
  ctx.out.json({ title, steps: results });
  ctx.out.line(`${title}: ${results.filter((r) => r.status === 'applied').length} step(s) changed something`);
  return 0;
}

async function apply(opts: Options, ctx: CommandContext): Promise<number> {
  const loaded = await specFromOptions(opts, ctx);
  const { localNode } = loaded;
  const spec = await withDetectedPublicIp(loaded.spec, localNode, ctx);
  const facts = await gatherApplyFacts(opts, ctx);
  const steps = planCrossVpcApply(spec, localNode, facts);
  if (steps.length === 0) {
    ctx.out.json({ node: localNode, peers: [], steps: [] });
    ctx.out.line(`${localNode} has no peers outside its VPC: nothing to apply (\`knit crossvpc remove\` deletes earlier rules)`);
    return 0;
  }
  return runSteps(crossVpcPlanTitle(spec, localNode, 'apply'), steps, opts, ctx, facts.kubeconfig);
}

export async function removeFacts(ctx: CommandContext): Promise<CrossVpcRemoveFacts> {
  return { state: await readCrossVpcState(ctx.exec), unitInstalled: await ctx.files.exists(CROSSVPC.unitPath) };
}

async function remove(opts: Options, ctx: CommandContext): Promise<number> {
  const facts = await removeFacts(ctx);
  return runSteps('knit crossvpc remove', planCrossVpcRemove(facts), opts, ctx);
}

/** Exit 0 when the live chains are exactly what the spec renders, 1 when they drifted or are missing. */
async function status(opts: Options, ctx: CommandContext): Promise<number> {
  const loaded = await specFromOptions(opts, ctx);
  const { localNode } = loaded;
  const spec = await withDetectedPublicIp(loaded.spec, localNode, ctx);
  const { node } = findNode(spec, localNode);
  const peers = peersOutsideVpc(spec, localNode);
  const [backend, live, saved] = await Promise.all([
    detectIptablesBackend(ctx.exec),
    readCrossVpcState(ctx.exec),
    ctx.files.read(CROSSVPC.rulesFile),
  ]);
  const drift = diffCrossVpcState(crossVpcRuleSet(peers), live);
  const ok = inSync(drift);
  const rulesFile = saved === undefined ? 'missing' : saved === renderCrossVpcRules(spec, localNode) ? 'current' : 'outdated';
  ctx.out.json({ node: { name: node.name, privateIP: node.privateIP, publicIP: node.publicIP }, backend, peers, inSync: ok, ...drift, rulesFile });
  ctx.out.line(`node ${node.name} (private ${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''}), iptables ${backend}`);
  ctx.out.line(`peers outside its VPC: ${peers.length}`);
  for (const p of peers) ctx.out.line(`  ${p.name}  ${p.privateIP} -> ${p.publicIP}`);
  ctx.out.line(ok ? 'nat rules: in sync' : `nat rules: drifted (${drift.missing.length} missing, ${drift.unexpected.length} unexpected)`);
  for (const l of drift.missing) ctx.out.line(`  missing:    ${l}`);
  for (const l of drift.unexpected) ctx.out.line(`  unexpected: ${l}`);
  ctx.out.line(`saved rules (${CROSSVPC.rulesFile}): ${rulesFile}`);
  return ok ? 0 : 1;
}

export async function run(action: CrossVpcAction, opts: Options, ctx: CommandContext): Promise<number> {
  switch (action) {
    case 'apply':
      return apply(opts, ctx);
    case 'status':
      return status(opts, ctx);
    case 'remove':
      return remove(opts, ctx);
  }
}
