/**
 * `knit doctor`: reads this host (knit's preflight probes, knit's cross-VPC address map) and, when a kubeconfig
 * works, the cluster; reports the known traps with their fixes. Changes nothing. Exit 1 on a failure.
 */
import { diffNftTable } from '../crossvpc/nft.js';
import { peersOutsideVpc } from '../crossvpc/peers.js';
import { nftOptions, nftWant, renderCrossVpcRulesFile } from '../crossvpc/plan.js';
import { CROSSVPC } from '../defaults.js';
import { diagnose, type ClusterFacts, type ClusterPod, type DoctorFacts, type Finding } from '../doctor/diagnose.js';
import { readKnitTable } from '../host/nft.js';
import type { Spec } from '../spec/schema.js';
import { securityGroupChecksForHost, terwayChecksForHost } from '../command-support/alicloud-facts.js';
import { hybridRouteCheckForHost } from '../command-support/hybrid-routes.js';
import type { CommandContext } from '../command-support/context.js';
import { findKubeconfig, readMetricsServer } from './crossvpc.js';
import type { SpecOptions } from '../command-support/options.js';
import { hostSpec, inspectHost } from './preflight.js';

export interface DoctorOptions extends SpecOptions {
  kubeconfig?: string;
}

interface KubeList<T> {
  items: T[];
}
interface NodeJson {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[]; allocatable?: { pods?: string } };
}
interface PodJson {
  metadata: { name: string; namespace: string; ownerReferences?: { kind: string; name: string }[] };
  spec: { nodeName?: string; hostNetwork?: boolean };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
  };
}

/** A ReplicaSet is named after its Deployment plus a hash: report the Deployment. */
const ownerOf = (p: PodJson): string | undefined => {
  const o = p.metadata.ownerReferences?.[0];
  if (!o) return undefined;
  return o.kind === 'ReplicaSet' ? o.name.replace(/-[a-z0-9]{6,10}$/, '') : o.name;
};

async function readCluster(ctx: CommandContext, opts: DoctorOptions): Promise<ClusterFacts | { error: string }> {
  const kubeconfig = await findKubeconfig(opts, ctx);
  if (!kubeconfig) return { error: 'no kubeconfig ($KUBECONFIG, --kubeconfig, admin.conf or kubelet.conf)' };
  const get = async <T>(args: string[]): Promise<T> => {
    const r = await ctx.exec(['kubectl', '--kubeconfig', kubeconfig, '--request-timeout=10s', 'get', ...args, '-o', 'json']);
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().split('\n')[0] || `kubectl get ${args.join(' ')} exited with ${r.exitCode}`);
    return JSON.parse(r.stdout) as T;
  };
  try {
    const [nodes, pods, metricsServer] = await Promise.all([
      get<KubeList<NodeJson>>(['nodes']),
      get<KubeList<PodJson>>(['pods', '--all-namespaces']),
      readMetricsServer(ctx.exec, kubeconfig, ctx.out.note),
    ]);
    return {
      nodes: nodes.items.map((n) => ({
        name: n.metadata.name,
        ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        annotations: n.metadata.annotations ?? {},
        labels: n.metadata.labels ?? {},
        allocatablePods: Number(n.status?.allocatable?.pods ?? 0),
      })),
      pods: pods.items.map((p): ClusterPod => ({
        namespace: p.metadata.namespace,
        name: p.metadata.name,
        node: p.spec.nodeName,
        phase: p.status?.phase ?? 'Unknown',
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        waiting: p.status?.containerStatuses?.map((c) => c.state?.waiting?.reason).find((r) => r !== undefined),
        hostNetwork: p.spec.hostNetwork === true,
        owner: ownerOf(p),
      })),
      ...(metricsServer ? { metricsServer } : {}),
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function readMap(ctx: CommandContext, facts: Pick<DoctorFacts, 'spec' | 'node'>): Promise<DoctorFacts['crossVpc']> {
  try {
    const [live, saved] = await Promise.all([readKnitTable(ctx.exec), ctx.files.read(CROSSVPC.rulesFile)]);
    const peers = peersOutsideVpc(facts.spec, facts.node);
    const rulesFile = saved === undefined ? 'missing' : peers.length > 0 && saved === renderCrossVpcRulesFile(facts.spec, facts.node) ? 'current' : 'outdated';
    return { drift: diffNftTable(nftWant(facts.spec, facts.node), live, nftOptions(facts.spec)), rulesFile };
  } catch {
    return undefined;
  }
}

/**
 * Terway's cloud checks, and on ECS with peers in other VPCs the overlay's security groups (which turn
 * a cloud failure into their own warning); a doctor reports a failure instead of stopping on it.
 */
async function readCloud(ctx: CommandContext, spec: Spec, node: string): Promise<DoctorFacts['cloud']> {
  try {
    const groups = await securityGroupChecksForHost(spec, node, ctx);
    if (spec.network.plugin !== 'terway') return groups.length > 0 ? groups : undefined;
    return [...(await terwayChecksForHost(spec, node, ctx)), ...groups];
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const MARK: Record<Finding['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export async function run(opts: DoctorOptions, ctx: CommandContext): Promise<number> {
  const { spec, localNode: node, target } = await hostSpec(opts, ctx);
  const base = { spec, node };
  const [host, crossVpc, cluster, cloud] = await Promise.all([inspectHost(ctx, target), readMap(ctx, base), readCluster(ctx, opts), readCloud(ctx, spec, node)]);
  // after the other reads: loading the SDK holds the event loop longer than the metadata service's timeout
  const hybridRoute = await hybridRouteCheckForHost(spec, ctx).catch((e: Error) => ({ error: e.message }));
  const findings = diagnose({ ...base, host, crossVpc, cluster, ...(cloud ? { cloud } : {}), ...(hybridRoute ? { hybridRoute } : {}) });
  const failed = findings.filter((f) => f.status === 'fail');
  ctx.out.json({ node, cni: spec.network.plugin, findings, failed: failed.length });
  const width = Math.max(...findings.map((f) => f.id.length));
  for (const f of findings) {
    ctx.out.line(`${MARK[f.status]}  ${f.id.padEnd(width)}  ${f.message}`);
    if (f.fix && f.status !== 'ok') ctx.out.line(`      ${' '.repeat(width)}  fix: ${f.fix}`);
  }
  const warned = findings.filter((f) => f.status === 'warn').length;
  ctx.out.line(`${findings.length} checks: ${failed.length} failed, ${warned} warnings`);
  return failed.length > 0 ? 1 : 0;
}
