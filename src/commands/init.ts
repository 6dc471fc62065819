/** `knit init`: the control-plane phases, previewed with --dry-run or applied with progress. */
import { PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { knitJoinCommand, parseJoinCommand, type JoinParameters } from '../kubeadm/join-command.js';
import { initPlanTitle, KUBEADM_INIT_LOG, planInit } from '../plan/init.js';
import { registerSecret } from '../ui/redact.js';
import type { CommandContext } from '../command-support/context.js';
import { cniYaml } from '../cni/index.js';
import { assertValidCni, renderCniFor } from '../command-support/cni-source.js';
import { specOnHost } from '../command-support/alicloud-facts.js';
import { hostCrossVpcFacts } from './crossvpc.js';
import { executePlan, summarizeResults, writtenFiles } from '../command-support/execute-plan.js';
import { joinParametersSeen } from '../host/apply.js';
import { preflightGate, preflightTargetFor } from './preflight.js';
import type { SpecOptions } from '../command-support/options.js';

export interface InitOptions extends SpecOptions {
  dryRun?: boolean;
  skip?: string[];
  ignorePreflightErrors?: string[];
  yes?: boolean;
  showCertificateKey?: boolean;
}

export async function run(opts: InitOptions, ctx: CommandContext): Promise<number> {
  const { spec, node, cloudChecks } = await specOnHost(opts, ctx);
  if (node.role !== 'control-plane') throw new UsageError(`nodes: ${node.name} is a worker; run \`knit join\` on it`);
  const cni = renderCniFor(spec, ctx);
  // a manifest the apiserver would refuse is found before kubeadm init, not halfway through the plan
  await assertValidCni(cniYaml(cni));
  const plan = { spec, node, home: ctx.env.HOME ?? '/root', crossVpc: await hostCrossVpcFacts(spec, node.name, ctx), cni };
  const steps = planInit(plan);
  const results = await executePlan(ctx, {
    title: initPlanTitle(plan),
    steps,
    ...(ctx.interactive && !opts.yes ? { confirm: `Initialize ${node.name} as a control plane?` } : {}),
    skip: opts.skip,
    dryRun: opts.dryRun,
    ...(opts.resumeCommand ? { resumeCommand: opts.resumeCommand } : {}),
    owner: 'init',
    preflight: (role) => preflightGate(ctx, { ...preflightTargetFor(spec, node), role, nodeName: node.name }, opts.ignorePreflightErrors, cloudChecks),
  });
  if (!results) return 0;

  const join = await joinParameters(ctx, results.find((r) => r.id === 'kubeadm/init')?.status === 'applied');
  if (!opts.showCertificateKey) registerSecret(join?.certificateKey);
  const workerJoin = join && knitJoinCommand(join);
  const controlPlaneJoin = join?.certificateKey && opts.showCertificateKey ? knitJoinCommand(join, { controlPlane: true }) : undefined;

  ctx.out.json({
    node: node.name,
    endpoint: spec.kubernetes.controlPlaneEndpoint,
    steps: results,
    files: writtenFiles(steps),
    join: workerJoin ? { command: workerJoin, controlPlaneCommand: controlPlaneJoin, endpoint: join.endpoint, token: join.token, caCertHash: join.caCertHash } : null,
    log: KUBEADM_INIT_LOG,
  });
  ctx.out.line(`control plane ${node.name} is up; API server at https://${spec.kubernetes.controlPlaneEndpoint} (${summarizeResults(results)})`);
  if (workerJoin) {
    ctx.out.line('join a worker (run on that node):');
    ctx.out.line(`  ${workerJoin}`);
    if (controlPlaneJoin) ctx.out.line(`join another control plane:\n  ${controlPlaneJoin}`);
    else if (join.certificateKey) ctx.out.line('(add --show-certificate-key to print the control-plane join; the key expires after 2 hours)');
  }
  ctx.out.line('next: `kubectl get nodes` (kubeconfig in ~/.kube/config), then `knit verify` once the workers have joined');
  return 0;
}

/**
 * From this run's kubeadm output when kubeadm init ran; otherwise (already initialized) a fresh token
 * from `kubeadm token create --print-join-command`.
 */
async function joinParameters(ctx: CommandContext, initRan: boolean): Promise<JoinParameters | undefined> {
  // kubeadm's own output, as this run read it (the log holds the token and key masked)
  const seen = initRan ? joinParametersSeen() : undefined;
  if (seen) return seen;
  const r = await ctx.exec(['kubeadm', 'token', 'create', '--print-join-command', '--kubeconfig', ctx.files.path(PATHS.adminConf)]);
  return r.exitCode === 0 ? parseJoinCommand(r.stdout) : undefined;
}
