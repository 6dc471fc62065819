/**
 * `knit crossvpc apply|status|remove`: the NAT mapping that lets nodes in different VPCs reach each
 * other's private IPs through their public IPs. Reads host facts, plans (pure, src/crossvpc), then
 * prints the plan (--dry-run) or runs it.
 */
import { realpathSync } from 'node:fs';
import { NO_LEGACY } from '../crossvpc/legacy.js';
import { METRICS_SERVER, type MetricsServerFacts } from '../crossvpc/metrics-server.js';
import { diffNftTable, nftInSync, renderNftTable } from '../crossvpc/nft.js';
import { findNode, needsPublicIp, peersOutsideVpc } from '../crossvpc/peers.js';
import {
  crossVpcPlanTitle,
  NO_LEGACY_FACTS,
  nftOptions,
  nftWant,
  planCrossVpcApply,
  planCrossVpcRemove,
  planCrossVpcAnnotate,
  type CrossVpcFacts,
  type CrossVpcRemoveFacts,
  type LegacyFacts,
} from '../crossvpc/plan.js';
import { CROSSVPC, PATHS } from '../defaults.js';
import { PreflightError, UsageError } from '../errors.js';
import { CommandNotFoundError, type Exec } from '../host/exec.js';
import { readLegacyNat } from '../host/iptables.js';
import { readKnitTable } from '../host/nft.js';
import { OFFLINE_CROSSVPC_FACTS } from '../plan/init.js';
import { isSkipped } from '../runner/skip.js';
import type { Step } from '../runner/types.js';
import { isIPv4, isPublicIPv4 } from '../spec/net.js';
import type { Spec } from '../spec/schema.js';
import { metadataClient } from '../command-support/alicloud-facts.js';
import type { CommandContext } from '../command-support/context.js';
import { executePlan, requireRoot } from '../command-support/execute-plan.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';
import type { AgentOptions, AgentState } from './crossvpc-agent.js';

export type CrossVpcAction = 'apply' | 'status' | 'remove' | 'agent' | 'annotate';

export interface CrossVpcOptions {
  /** Step ids (or groups) not to run. */
  skip?: string[];
  /** kubectl's kubeconfig; default $KUBECONFIG, then admin.conf, then kubelet.conf. */
  kubeconfig?: string;
}

type Options = CrossVpcOptions & SpecOptions & AgentOptions & { dryRun?: boolean };

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
 * What earlier knit versions left: their iptables chains are looked for only when their saved rules
 * file exists (every apply of theirs wrote it), so that hosts that never had them run no iptables-save.
 */
export async function readLegacyFacts(ctx: CommandContext): Promise<LegacyFacts> {
  if (!(await ctx.files.exists(CROSSVPC.legacy.rulesFile))) return NO_LEGACY_FACTS;
  return { nat: await readLegacyNat(ctx.exec).catch(() => NO_LEGACY), rulesFile: true };
}

/** knit's table, with a missing `nft` said as the preflight failure it is (exit 3). */
async function readTableOrExplain(exec: Exec) {
  return readKnitTable(exec).catch((e: unknown) => {
    throw e instanceof CommandNotFoundError ? new PreflightError(e.message) : e;
  });
}

/**
 * For init/join: the host's facts when they can be read; else (a dry run without root) the offline
 * assumption, said as a note. Only asked when the node has peers in other VPCs.
 */
export async function hostCrossVpcFacts(spec: Spec, node: string, ctx: CommandContext): Promise<CrossVpcFacts | undefined> {
  if (peersOutsideVpc(spec, node).length === 0) return undefined;
  try {
    const [table, legacy] = await Promise.all([readKnitTable(ctx.exec), readLegacyFacts(ctx)]);
    return { ...(table ? { table } : {}), legacy, knitCommand: knitCommand() };
  } catch (e) {
    ctx.out.note(`note: cannot read nftables here (${(e as Error).message.split('\n')[0]}); planning for a fresh host`);
    return OFFLINE_CROSSVPC_FACTS;
  }
}

/** One annotation of a node; undefined when it is not set or the cluster cannot be asked (said as a note). */
async function readNodeAnnotation(exec: Exec, kubeconfig: string, node: string, key: string, note: (s: string) => void): Promise<string | undefined> {
  const r = await exec(['kubectl', '--kubeconfig', kubeconfig, 'get', 'node', node, '--ignore-not-found', '-o', 'json'])
    .catch((e: Error) => ({ exitCode: 127, stdout: '', stderr: e.message }));
  if (r.exitCode !== 0) return void note(`could not read node ${node} (${r.stderr.trim().split('\n')[0]}); its annotations are left as they are`);
  if (r.stdout.trim() === '') return undefined;
  return (JSON.parse(r.stdout) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[key];
}

/**
 * How systemd starts this knit: the single-file build is its own executable; otherwise node runs the
 * script it was started with (a global npm install's bin, or a clone's bin/knit.js).
 */
export function knitCommand(): string[] {
  const script = process.argv[1];
  if (!script || script === process.execPath || !/(^|\/)knit(\.js)?$/.test(script)) return [process.execPath];
  return [process.execPath, realpathSync(script)];
}

async function gatherApplyFacts(opts: Options, node: string, ctx: CommandContext): Promise<CrossVpcFacts> {
  const kubeconfig = await findKubeconfig(opts, ctx);
  const [table, legacy, metricsServer, flannelOverwrite] = await Promise.all([
    readTableOrExplain(ctx.exec).catch((e: Error) => {
      // a dry run without root cannot read nftables: plan for a host without knit's table
      if (!opts.dryRun) throw e;
      ctx.out.note(`note: cannot read nftables here (${e.message.split('\n')[0]}); planning for a host without knit's table`);
      return undefined;
    }),
    readLegacyFacts(ctx),
    kubeconfig ? readMetricsServer(ctx.exec, kubeconfig, ctx.out.note) : undefined,
    kubeconfig ? readNodeAnnotation(ctx.exec, kubeconfig, node, CROSSVPC.flannelPublicIpAnnotation, ctx.out.note) : undefined,
  ]);
  return {
    ...(table ? { table } : {}),
    legacy,
    knitCommand: knitCommand(),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(metricsServer ? { metricsServer } : {}),
    ...(flannelOverwrite !== undefined ? { flannelOverwrite } : {}),
  };
}

async function runSteps(title: string, steps: Step[], opts: Options, ctx: CommandContext, kubeconfig?: string): Promise<number> {
  const skip = new Set(opts.skip ?? []);
  const needsKubectl = steps.some((s) => !isSkipped(s.id, skip) && s.effects.some((e) => e.kind.startsWith('kube-')));
  if (!opts.dryRun && needsKubectl && !kubeconfig)
    throw new UsageError(
      `--kubeconfig: the kube-* steps need one (looked for $KUBECONFIG, ${PATHS.adminConf}, ${PATHS.kubeletConf}); ` +
        'or --skip crossvpc/flannel to leave the annotation for later',
    );
  const results = await executePlan(ctx, { title, steps, skip: opts.skip, dryRun: opts.dryRun, owner: OWNER, kubeconfig });
  if (!results) return 0;
  ctx.out.json({ title, steps: results });
  ctx.out.line(`${title}: ${results.filter((r) => r.status === 'applied').length} step(s) changed something`);
  return 0;
}

async function apply(opts: Options, ctx: CommandContext): Promise<number> {
  if (!opts.dryRun) requireRoot(ctx);
  const loaded = await specFromOptions(opts, ctx);
  const { localNode } = loaded;
  const spec = await withDetectedPublicIp(loaded.spec, localNode, ctx);
  const facts = await gatherApplyFacts(opts, localNode, ctx);
  const steps = planCrossVpcApply(spec, localNode, facts);
  if (steps.length === 0) {
    ctx.out.json({ node: localNode, peers: [], steps: [] });
    ctx.out.line(`${localNode} has no peers outside its VPC: nothing to apply (\`knit crossvpc remove\` deletes an earlier map)`);
    return 0;
  }
  return runSteps(crossVpcPlanTitle(spec, localNode, 'apply'), steps, opts, ctx, facts.kubeconfig);
}

export async function removeFacts(ctx: CommandContext): Promise<CrossVpcRemoveFacts> {
  const [table, legacy, unitInstalled, agentInstalled] = await Promise.all([
    // without nft there is no table knit could have loaded
    readKnitTable(ctx.exec).then((t) => t !== undefined, (e: unknown) => (e instanceof CommandNotFoundError ? false : Promise.reject(e))),
    readLegacyFacts(ctx),
    ctx.files.exists(CROSSVPC.unitPath),
    ctx.files.exists(CROSSVPC.agent.unitPath),
  ]);
  return { table, legacy, unitInstalled, agentInstalled };
}

async function remove(opts: Options, ctx: CommandContext): Promise<number> {
  if (!opts.dryRun) requireRoot(ctx);
  const facts = await removeFacts(ctx);
  return runSteps('knit crossvpc remove', planCrossVpcRemove(facts), opts, ctx);
}

/**
 * `knit crossvpc annotate`: what each node of the spec publishes for the agents (its VPC label and its
 * public IP annotation), set with an admin kubeconfig on nodes that joined before knit set them.
 */
async function annotate(opts: Options, ctx: CommandContext): Promise<number> {
  const { spec } = await specFromOptions(opts, ctx);
  const kubeconfig = await findKubeconfig(opts, ctx);
  const steps = planCrossVpcAnnotate(spec, kubeconfig ?? PATHS.adminConf);
  return runSteps('knit crossvpc annotate', steps, opts, ctx, kubeconfig);
}

/** Two renderings of the table are the same ruleset when they differ only in their comment lines. */
const sameRuleset = (a: string, b: string): boolean => {
  const strip = (t: string) => t.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return strip(a) === strip(b);
};

async function readAgentState(ctx: CommandContext): Promise<AgentState | undefined> {
  const text = await ctx.files.read(CROSSVPC.agent.stateFile);
  try {
    return text === undefined ? undefined : (JSON.parse(text) as AgentState);
  } catch {
    return undefined; // being written: the next status reads it
  }
}

/**
 * Exit 0 when the live map is exactly what its source asks for (the agent's last view of the cluster
 * when an agent runs, else the spec) and the saved ruleset would restore it at boot; 1 when either
 * drifted or is missing, or when an earlier version's iptables rules are still saved.
 */
async function status(opts: Options, ctx: CommandContext): Promise<number> {
  const loaded = await specFromOptions(opts, ctx);
  const { localNode } = loaded;
  const spec = await withDetectedPublicIp(loaded.spec, localNode, ctx);
  const { node } = findNode(spec, localNode);
  const [table, saved, legacy, agent] = await Promise.all([
    readTableOrExplain(ctx.exec),
    ctx.files.read(CROSSVPC.rulesFile),
    ctx.files.exists(CROSSVPC.legacy.rulesFile),
    readAgentState(ctx),
  ]);
  const source = agent ? 'cluster' : 'spec';
  const wanted = agent?.want ?? nftWant(spec, localNode);
  const { peers } = wanted;
  const opts_ = nftOptions(spec);
  const drift = diffNftTable(wanted, table, opts_);
  const want = source === 'cluster' || peers.length > 0;
  const rulesFile = saved === undefined ? 'missing' : want && sameRuleset(saved, renderNftTable(wanted, opts_)) ? 'current' : 'outdated';
  const live = want ? nftInSync(drift) : drift.table === 'missing';
  const ok = live && rulesFile === (want ? 'current' : 'missing') && !legacy;
  ctx.out.json({
    node: { name: node.name, privateIP: node.privateIP, publicIP: node.publicIP }, source, peers, inSync: ok, ...drift, rulesFile, legacyRules: legacy,
    ...(agent ? { agent: { lastSync: agent.lastSync, watched: agent.watched, skipped: agent.skipped } } : {}),
  });
  ctx.out.line(`node ${node.name} (private ${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''})`);
  ctx.out.line(agent
    ? `source: the cluster's Nodes (${CROSSVPC.agent.unitName}: last sync ${agent.lastSync}, ${agent.watched} node(s) watched)`
    : `source: the spec (no agent has synced on this node)`);
  for (const s of agent?.skipped ?? []) ctx.out.line(`  skipped ${s.node}: ${s.reason}; fix: ${s.fix}`);
  ctx.out.line(`peers outside its VPC: ${peers.length}`);
  for (const p of peers) ctx.out.line(`  ${p.name}  ${p.privateIP} -> ${p.publicIP}`);
  const what = `nftables table ${CROSSVPC.nftFamily} ${CROSSVPC.nftTable}`;
  if (!want) ctx.out.line(live ? `${what}: none, as wanted` : `${what}: loaded, but no peer needs it (knit crossvpc remove)`);
  else if (live) ctx.out.line(`${what}: in sync`);
  else ctx.out.line(`${what}: ${drift.table === 'current' ? 'drifted' : drift.table} (${drift.missing.length} entries missing, ${drift.unexpected.length} unexpected)`);
  for (const l of drift.missing) ctx.out.line(`  missing:    ${l}`);
  for (const l of drift.unexpected) ctx.out.line(`  unexpected: ${l}`);
  ctx.out.line(`saved ruleset (${CROSSVPC.rulesFile}): ${rulesFile}${want && rulesFile !== 'current' ? ': a reboot would not restore the map' : ''}`);
  if (legacy) ctx.out.line(`earlier knit's iptables rules are still saved (${CROSSVPC.legacy.rulesFile}): knit crossvpc apply replaces them`);
  return ok ? 0 : 1;
}

export async function run(action: CrossVpcAction, opts: Options, ctx: CommandContext): Promise<number> {
  switch (action) {
    case 'agent':
      return (await import('./crossvpc-agent.js')).runAgent(opts, ctx);
    case 'annotate':
      return annotate(opts, ctx);
    case 'apply':
      return apply(opts, ctx);
    case 'status':
      return status(opts, ctx);
    case 'remove':
      return remove(opts, ctx);
  }
}
