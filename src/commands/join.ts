/** `knit join`: a JoinConfiguration filled with the join secrets, then kubeadm join, with progress. */
import { PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { JOIN_FORMATS } from '../kubeadm/join-command.js';
import { joinPlanTitle, planJoin } from '../plan/join.js';
import { registerSecret } from '../ui/redact.js';
import type { CommandContext } from '../command-support/context.js';
import { specOnHost } from '../command-support/alicloud-facts.js';
import { hostCrossVpcFacts } from './crossvpc.js';
import { executePlan, summarizeResults, writtenFiles } from '../command-support/execute-plan.js';
import { preflightGate, preflightTargetFor } from './preflight.js';
import type { SpecOptions } from '../command-support/options.js';

export interface JoinOptions extends SpecOptions {
  endpoint?: string;
  token?: string;
  caCertHash?: string;
  controlPlane?: boolean;
  certificateKey?: string;
  dryRun?: boolean;
  skip?: string[];
  ignorePreflightErrors?: string[];
  yes?: boolean;
}

const { token: TOKEN, caCertHash: CA_HASH, certificateKey: CERT_KEY } = JOIN_FORMATS;

export async function run(opts: JoinOptions, ctx: CommandContext): Promise<number> {
  if (!opts.token || !TOKEN.test(opts.token)) throw new UsageError('--token: required, in the form abcdef.0123456789abcdef');
  if (!opts.caCertHash || !CA_HASH.test(opts.caCertHash)) throw new UsageError('--ca-cert-hash: required, in the form sha256:<64 hex digits>');
  if (opts.controlPlane && !(opts.certificateKey && CERT_KEY.test(opts.certificateKey)))
    throw new UsageError('--certificate-key: required with --control-plane (64 hex digits, from `knit init --show-certificate-key`)');
  // the token's secret half and the certificate key never reach the terminal or a log
  registerSecret(opts.token.split('.')[1]);
  registerSecret(opts.certificateKey);

  const { spec, node, cloudChecks } = await specOnHost(
    { ...opts, controlPlaneEndpoint: opts.endpoint ?? opts.controlPlaneEndpoint, role: opts.controlPlane ? 'control-plane' : (opts.role ?? 'worker') },
    ctx,
  );
  const secrets = { token: opts.token, caCertHash: opts.caCertHash, certificateKey: opts.certificateKey };
  const plan = { spec, node, secrets, crossVpc: await hostCrossVpcFacts(spec, node.name, ctx) };
  const steps = planJoin(plan);
  const results = await executePlan(ctx, {
    title: joinPlanTitle(plan),
    steps,
    ...(ctx.interactive && !opts.yes ? { confirm: `Join ${node.name} to the cluster at ${spec.kubernetes.controlPlaneEndpoint}?` } : {}),
    skip: opts.skip,
    dryRun: opts.dryRun,
    ...(opts.resumeCommand ? { resumeCommand: opts.resumeCommand } : {}),
    owner: 'join',
    preflight: (role) => preflightGate(ctx, { ...preflightTargetFor(spec, node), role, nodeName: node.name }, opts.ignorePreflightErrors, cloudChecks),
    // a joined node's own credentials: enough for the kubelet to annotate its own Node
    kubeconfig: ctx.files.path(PATHS.kubeletConf),
  });
  if (!results) return 0;
  ctx.out.json({ node: node.name, endpoint: spec.kubernetes.controlPlaneEndpoint, steps: results, files: writtenFiles(steps) });
  ctx.out.line(`${node.name} joined the cluster at ${spec.kubernetes.controlPlaneEndpoint} (${summarizeResults(results)})`);
  ctx.out.line('next: `kubectl get nodes` on a control plane shows it Ready once the CNI runs here; `knit verify` checks pod traffic between the nodes');
  return 0;
}
