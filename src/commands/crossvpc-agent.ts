/**
 * `knit crossvpc agent`: keeps this node's address map equal to the cluster's Nodes. It list-watches
 * Nodes with the kubelet's credentials, and on every change (debounced) computes the wanted table from
 * the Nodes' knit.dev/vpc labels and knit.dev/public-ip annotations, reads the live table and applies
 * only the element changes in one nft transaction; it saves the same table for boot, so a rebooted node
 * reaches the API server (perhaps in another VPC) before the watch is back. One log line per change.
 * Until the API server answers, the table stays as the spec (or the last sync) left it.
 */
import { access } from 'node:fs/promises';
import { describePeerChanges, clusterNodeOf, wantFromCluster, type ClusterNode, type SkippedNode } from '../crossvpc/cluster-nodes.js';
import { planNftUpdate, renderNftTable, type NftMapOptions, type NftWant } from '../crossvpc/nft.js';
import type { CrossVpcPeer } from '../crossvpc/peers.js';
import { CROSSVPC, PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import type { NodeWatch } from '../cluster/node-watch.js';
import { readKnitTable } from '../host/nft.js';
import type { CommandContext } from '../command-support/context.js';
import { requireRoot } from '../command-support/execute-plan.js';

/** What `crossvpc apply` writes for the agent (CROSSVPC.agent.configFile): the node and the table's shape. */
export interface AgentConfig extends NftMapOptions {
  node: string;
  kubeconfig: string;
}

export interface AgentState {
  source: 'cluster';
  node: string;
  /** ISO time of the last sync that reached the API server and left the table as wanted. */
  lastSync: string;
  watched: number;
  peers: number;
  skipped: SkippedNode[];
  want: { peers: CrossVpcPeer[]; nodes: string[] };
}

export interface AgentOptions {
  /** Stop after this many seconds (tests, benchmarks); default: run until SIGTERM or SIGINT. */
  duration?: number;
}

async function readConfig(ctx: CommandContext): Promise<AgentConfig> {
  const path = CROSSVPC.agent.configFile;
  const text = await ctx.files.read(path);
  if (text === undefined) throw new UsageError(`${path} does not exist: \`knit crossvpc apply\` (or init/join) writes it`);
  const c = JSON.parse(text) as Partial<AgentConfig>;
  if (!c.node || typeof c.mss !== 'number' || !Array.isArray(c.overlay)) throw new UsageError(`${path}: expected node, mss and overlay (written by knit crossvpc apply)`);
  // a host path, like every path knit writes (tests run under a host root)
  return { node: c.node, mss: c.mss, overlay: c.overlay, kubeconfig: ctx.files.path(c.kubeconfig ?? PATHS.kubeletConf) };
}

const stamp = () => new Date().toISOString();
const KUBECONFIG_POLL_MS = 2000;
/** A real path (the kubeconfig is read by the client library, not through the host root). */
const exists = (path: string) => access(path).then(() => true, () => false);

export async function runAgent(opts: AgentOptions, ctx: CommandContext): Promise<number> {
  requireRoot(ctx);
  const cfg = await readConfig(ctx);
  const log = (line: string) => ctx.out.line(`${stamp()} ${line}`);
  const { watchNodes } = await import('../cluster/node-watch.js');
  let watch: NodeWatch | undefined;

  let applied: CrossVpcPeer[] | undefined;
  let lastError: string | undefined;
  let reported = new Set<string>();
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  async function sync(watch: NodeWatch): Promise<void> {
    // the table's shape (MSS, guarded ports) is read again each time: an apply may have changed it
    const started = Date.now();
    const shape = await readConfig(ctx);
    const nodes = watch.snapshot().map(clusterNodeOf).filter((n): n is ClusterNode => n !== undefined);
    const live = await readKnitTable(ctx.exec);
    const r = wantFromCluster(cfg.node, nodes, live?.maps);
    if ('error' in r) {
      if (r.error !== lastError) log(`waiting: ${r.error}; the table is left as it is`);
      lastError = r.error;
      return;
    }
    lastError = undefined;
    const payload = planNftUpdate(r.want, live, shape);
    if (payload) {
      const res = await ctx.exec(['nft', '-f', '-'], { stdin: payload });
      if (res.exitCode !== 0) throw new Error(`nft -f - failed: ${res.stderr.trim().split('\n')[0]}`);
    }
    const lines = applied
      ? describePeerChanges(applied, r.want.peers)
      : [`synced from the cluster: ${r.want.peers.length} peer(s) outside this VPC, ${nodes.length} node(s) watched, in ${Date.now() - started} ms${payload ? '' : ' (the table already held them)'}`];
    for (const l of lines) log(l);
    const skippedNow = new Set(r.skipped.map((s) => `${s.node}: ${s.reason}`));
    for (const s of r.skipped) if (!reported.has(`${s.node}: ${s.reason}`)) log(`skipping node ${s.node}: ${s.reason}; fix: ${s.fix}`);
    reported = skippedNow;
    applied = [...r.want.peers];
    await saveForBoot(r.want, shape);
    const state: AgentState = {
      source: 'cluster', node: cfg.node, lastSync: stamp(), watched: nodes.length, peers: r.want.peers.length, skipped: r.skipped,
      want: { peers: [...r.want.peers], nodes: [...r.want.nodes] },
    };
    await ctx.files.write(CROSSVPC.agent.stateFile, `${JSON.stringify(state)}\n`, 0o644);
  }

  async function saveForBoot(want: NftWant, shape: NftMapOptions): Promise<void> {
    const header = [`knit cross-vpc address map for ${cfg.node}, kept equal to the cluster's Nodes by ${CROSSVPC.agent.unitName}`,
      `Loaded at boot by ${CROSSVPC.unitName}: nft -f ${CROSSVPC.rulesFile}`];
    const content = renderNftTable(want, shape, header);
    if ((await ctx.files.read(CROSSVPC.rulesFile)) !== content) await ctx.files.write(CROSSVPC.rulesFile, content, 0o644);
  }

  /** One sync at a time; changes that arrive meanwhile make one more. */
  function schedule(): void {
    if (running || !watch) return void (again = true);
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = sync(watch!)
        .catch((e: Error) => log(`sync failed: ${e.message}; retrying at the next change or resync`))
        .finally(() => {
          running = undefined;
          if (again) (again = false), schedule();
        });
    }, CROSSVPC.agent.debounceMs);
  }

  // installed before kubeadm runs (init and join load the map first): the kubelet's kubeconfig comes later
  if (!(await exists(cfg.kubeconfig))) {
    log(`waiting for ${cfg.kubeconfig} (written when kubeadm init or join has run); the table is left as it is`);
    while (!(await exists(cfg.kubeconfig))) await new Promise((r) => setTimeout(r, KUBECONFIG_POLL_MS));
  }
  log(`watching Nodes as ${cfg.node} (kubeconfig ${cfg.kubeconfig})`);
  watch = await watchNodes(cfg.kubeconfig, {
    change: schedule,
    listed: schedule,
    error: (e, retryInS) => log(`the API server did not answer (${e.message.split('\n')[0]}); the table keeps its last state; retrying in ${retryInS}s`),
  }, { backoffMaxS: CROSSVPC.agent.backoffMaxS, silentS: Number(ctx.env.KNIT_AGENT_WATCH_SILENT_S ?? CROSSVPC.agent.watchSilentS) });
  if (again) (again = false), schedule(); // events that came while the watch was starting
  const resync = setInterval(schedule, CROSSVPC.agent.resyncS * 1000);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    if (opts.duration !== undefined) setTimeout(stop, opts.duration * 1000);
  });
  clearInterval(resync);
  clearTimeout(timer);
  watch.stop();
  await running;
  log('stopped');
  return 0;
}
