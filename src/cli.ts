/**
 * knit's command line. Only commander loads up front; each command's module is imported when it runs,
 * so `knit --help` pays for nothing else. The one catch turning errors into exit codes is here.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { addDryRunOption, addPreflightIgnoreOption, addSkipOption, addSpecOptions } from './command-support/options.js';
import type { CommandContext, GlobalOptions } from './command-support/context.js';

type Action = (opts: Record<string, unknown>, ctx: CommandContext, cmd: Command) => Promise<number>;

class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Set at build time in the single executable (bin/build-sea.mjs), which has no package.json beside it. */
declare const KNIT_VERSION: string | undefined;

const packageVersion = (): string =>
  typeof KNIT_VERSION === 'string'
    ? KNIT_VERSION
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The step ids `--skip` takes, as `knit init --help` and `knit join --help` list them. Kept equal to the
 * plans (src/plan/) by test/cli.test.ts; here as text so that `--help` loads no plan module.
 */
const STEPS_HEAD = `
Steps for --skip, in plan order (a group skips every step in it):
  preflight     the host checks (to go on past one check: --ignore-preflight-errors CHECK)
  crossvpc      the cross-VPC address map, with nodes in other VPCs: crossvpc/map, crossvpc/legacy,
                crossvpc/persist, crossvpc/boot, crossvpc/flannel, crossvpc/metrics-server, and
                crossvpc/annotate after kubeadm
`;

const INIT_STEPS = `${STEPS_HEAD}  kubeadm       kubeadm/config, kubeadm/init
  kubeconfig    $HOME/.kube/config
  cni           cni/crds (Calico, Canal, Terway with NetworkPolicy or exclusive ENI; waits up to
                60 s until they are Established), cni/apply, cni/annotate (Calico route reflectors),
                cni/coredns-placement (hybrid clusters: CoreDNS on ECS nodes), wait/cni-rollout
  wait          every wait after the CNI is applied: wait/node-ready (this node Ready, up to 300 s),
                wait/cni-rollout (the CNI's DaemonSets and Deployments, up to 300 s each; formerly
                cni/rollout, which --skip still takes)
`;

const JOIN_STEPS = `${STEPS_HEAD}  kubeadm       kubeadm/config, kubeadm/join
  cni           cni/annotate (Calico route reflectors)
join has no wait steps: it ends when kubeadm join does.
`;

/**
 * The commands that change the host, and when: they hold the host lock while they run (src/host/lock.ts),
 * so two of them never interleave. Every other command, and every --dry-run, is read-only and takes none.
 * The cross-VPC agent is a daemon keeping the map in sync: it never takes the lock.
 */
const CHANGES_HOST: Record<string, (o: Record<string, unknown>) => boolean> = {
  init: (o) => !o.dryRun,
  join: (o) => !o.dryRun,
  reset: (o) => !o.dryRun,
  preflight: (o) => !o.dryRun && (o.fix !== undefined || o.undo === true),
  'crossvpc apply': (o) => !o.dryRun,
  'crossvpc remove': (o) => !o.dryRun,
  'crossvpc annotate': (o) => !o.dryRun,
};

/** The arguments main() was given (recorded in the host lock, secret values masked). */
let commandArgs: string[] = [];

async function takeHostLock(ctx: CommandContext) {
  const { acquireHostLock, lockCommandLine } = await import('./host/lock.js');
  return acquireHostLock({ root: ctx.files.root, command: lockCommandLine(commandArgs), env: ctx.env, note: (t) => ctx.out.note(t) });
}

export function buildProgram(): Command {
  const program = new Command('knit')
    .description('Bootstrap Kubernetes cluster networking on Alibaba Cloud ECS and across VPCs')
    .version(packageVersion())
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--debug', "show stack traces, their frames in knit's TypeScript sources (dist/knit.cjs.map)")
    .showSuggestionAfterError()
    .exitOverride();

  const action = (load: () => Promise<Action>) => async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const { createContext } = await import('./command-support/context.js');
    const opts = cmd.optsWithGlobals();
    const run = await load();
    const ctx = createContext(opts as GlobalOptions);
    const name = cmd.parent && cmd.parent !== program ? `${cmd.parent.name()} ${cmd.name()}` : cmd.name();
    let lock: Promise<{ release(): Promise<void> }> | undefined;
    if (CHANGES_HOST[name]?.(opts)) {
      // root first: a user's run must not create (and own) the lock file that root's runs then refuse
      (await import('./command-support/execute-plan.js')).requireRoot(ctx);
      ctx.lockHost = async () => void (await (lock ??= takeHostLock(ctx)));
      // the wizard asks first: it takes the lock once answered and confirmed (in executePlan)
      if (!opts.interactive) await ctx.lockHost();
    }
    try {
      throw new ExitWith(await run(opts, ctx, cmd));
    } finally {
      await (await lock?.catch(() => undefined))?.release();
    }
  };

  addSpecOptions(
    program
      .command('render')
      .description('render the bundle (kubeadm configs, cni.yaml, NAT rules, plan.txt), offline, without root')
      .option('--out <dir>', 'write the bundle files into DIR instead of printing them')
      .option('--validate', 'also check every object of cni.yaml against the Kubernetes API schemas')
      .option('--all-nodes', "every node's join config and cross-VPC ruleset (default: the local node's, or each --node-name's)")
      .option('--cloud-init', 'instead of the bundle: #cloud-config user-data that installs knit and joins each new instance (ECS, scaling groups)')
      .addOption(new Option('--role <role>', 'with --cloud-init: the role the instances join as (default worker)').choices(['worker', 'control-plane']))
      .option('--binary-url <url>', 'with --cloud-init: where instances download knit (your OSS bucket or mirror); {arch} stands for x64 or arm64')
      .option('--sha256 <[arch=]hash>', 'with --cloud-init: SHA-256 of that executable; with {arch}, once per arch: x64=HASH', (v: string, prev: string[] = []) => [...prev, v])
      .addOption(new Option('--token <token>', 'with --cloud-init: bootstrap token (kubeadm token create)').env('KNIT_JOIN_TOKEN'))
      .option('--ca-cert-hash <sha256:hash>', 'with --cloud-init: hash of the cluster CA')
      .addOption(new Option('--certificate-key <key>', 'with --cloud-init --role control-plane: key of the uploaded certificates').env('KNIT_JOIN_CERTIFICATE_KEY')),
    { repeatableNodeName: true },
  ).action(action(async () => (await import('./commands/render.js')).run as Action));

  addPreflightIgnoreOption(addSkipOption(addDryRunOption(addSpecOptions(
    program
      .command('init')
      .description('initialize a control plane: preflight, kubeadm init, kubeconfig, cross-VPC, CNI, wait Ready')
      .option('-y, --yes', 'never prompt (for scripts and CI)')
      .option('-i, --interactive', 'the wizard: detect this host, ask the rest (a worker is joined instead), show the plan, confirm')
      .option('--save <file>', 'with --interactive: save the answers as a cluster spec for `knit init --config FILE --yes`')
      .option('--show-certificate-key', 'also print the control-plane join command with its certificate key')
      .addHelpText('after', INIT_STEPS),
  )))).action(action(async () => {
    // --interactive: the wizard, which hands its answers over to init (or to join, for a worker)
    const load = (interactive: unknown) => (interactive ? import('./commands/wizard.js') : import('./commands/init.js'));
    return (async (opts, ctx) => (await load(opts.interactive)).run(opts as never, ctx)) as Action;
  }));

  addPreflightIgnoreOption(addSkipOption(addDryRunOption(addSpecOptions(
    program
      .command('join')
      .description('join this node to a cluster (kubeadm join through the public endpoint)')
      .option('-y, --yes', 'never prompt (for scripts and CI)')
      .option('--endpoint <host:port>', 'the control plane endpoint, as printed by `knit init`')
      .addOption(new Option('--token <token>', 'bootstrap token').env('KNIT_JOIN_TOKEN'))
      .option('--ca-cert-hash <sha256:hash>', 'hash of the cluster CA')
      .option('--control-plane', 'join as another control plane')
      .addOption(new Option('--certificate-key <key>', 'key for the uploaded control-plane certificates (with --control-plane)').env('KNIT_JOIN_CERTIFICATE_KEY'))
      .addHelpText('after', JOIN_STEPS),
  )))).action(action(async () => (await import('./commands/join.js')).run as Action));

  addDryRunOption(addSpecOptions(
    program
      .command('preflight')
      .description('check this host for Kubernetes and the chosen CNI; --fix remediates, --undo restores')
      .addOption(new Option('--role <role>', "this node's role (default: from the spec, else control-plane)").choices(['control-plane', 'worker']))
      .addOption(new Option('--fix [scope]', 'fix failing checks; `--fix all` also fixes warnings').choices(['failures', 'all']))
      .option('--undo', 'restore the files and sysctls `preflight --fix` changed')
      .option('--ignore <check...>', 'report these checks (ids, groups such as ports, or all) without failing on them'),
  )).action(action(async () => (await import('./commands/preflight.js')).run as Action));

  const crossvpc = program
    .command('crossvpc')
    .description("the address map (nftables) that lets nodes in different VPCs reach each other's private IPs through their public IPs");
  const crossvpcAction = (name: 'apply' | 'status' | 'remove' | 'agent' | 'annotate') =>
    action(async () => {
      const { run } = await import('./commands/crossvpc.js');
      return (opts, ctx) => run(name, opts, ctx);
    });
  addSkipOption(addDryRunOption(addSpecOptions(
    crossvpc
      .command('apply')
      .description('load the address map (nftables table ip knit, persistent across reboots); replaces what earlier versions set up')
      .option('--kubeconfig <file>', 'kubeconfig for metrics-server and earlier flannel annotations (default: $KUBECONFIG, admin.conf, kubelet.conf)'),
  ))).action(crossvpcAction('apply'));
  addSpecOptions(crossvpc.command('status').description("compare the live map and the saved ruleset with their source, the cluster's Nodes (agent) or the spec (exit 1 when either drifted)")).action(
    crossvpcAction('status'),
  );
  crossvpc
    .command('agent')
    .description("keep the map equal to the cluster's Nodes (their knit.dev/vpc label and knit.dev/public-ip annotation); runs as knit-crossvpc-agent.service")
    .option('--duration <seconds>', 'stop after this many seconds (default: until SIGTERM)', (v) => Number(v))
    .action(crossvpcAction('agent'));
  addSkipOption(addDryRunOption(addSpecOptions(
    crossvpc
      .command('annotate')
      .description('publish every spec node\'s VPC (label) and public IP (annotation) for the agents, on nodes that joined before knit set them')
      .option('--kubeconfig <file>', 'an admin kubeconfig (default: $KUBECONFIG, admin.conf)'),
  ))).action(crossvpcAction('annotate'));
  // the spec flags are accepted (and ignored) so that the apply command line, with remove for apply, works
  addSkipOption(addDryRunOption(addSpecOptions(crossvpc.command('remove').description("delete knit's table, boot unit and saved ruleset (and earlier versions' iptables chains)")))).action(
    crossvpcAction('remove'),
  );

  addSpecOptions(
    program
      .command('netcheck')
      .description('before install: can a peer be reached on what Kubernetes and the CNI need (ports, path MTU)? `--listen` on the peer, `--peer IP` here')
      .option('--listen', 'answer probes on the ports this node needs open, until Ctrl-C (or --duration)')
      .option('--peer <ip>', 'probe this peer (its public IP across VPCs); exit 1 when a check fails')
      .addOption(new Option('--peer-role <role>', "with --peer: the peer's role (default: from the spec, else control-plane)").choices(['control-plane', 'worker']))
      .addOption(new Option('--role <role>', "with --listen: this node's role (default: from the spec, else control-plane)").choices(['control-plane', 'worker']))
      .option('--port <port...>', 'extra ports to check, PORT[/tcp|/udp] (on both sides)')
      .option('--timeout <ms>', 'with --peer: how long each probe waits for an answer (default 2000)')
      .option('--duration <seconds>', 'with --listen: stop after this many seconds'),
  ).action(action(async () => {
    const { run } = await import('./commands/netcheck.js');
    return (opts, ctx) => run(opts as never, ctx);
  }));

  addSpecOptions(
    program
      .command('doctor')
      .description('look for the known traps on this host and in the cluster (leftover CNI config, NAT rules, flannel public IPs, metrics-server, Terway quota) and say how to fix them')
      .option('--kubeconfig <path>', 'kubeconfig for the cluster checks (default: $KUBECONFIG, admin.conf, kubelet.conf)')
      .option('--role <role>', 'this node\'s role, when no spec file names it'),
  ).action(action(async () => (await import('./commands/doctor.js')).run as Action));

  addSpecOptions(
    program
      .command('verify')
      .description('check a running cluster: nodes Ready and CNI pods Running, then from a probe pod on every node: pod → pod for every node pair, Service, DNS, internet, external hosts; kubectl exec/logs on every node')
      .option('--timeout <seconds>', 'how long to wait for nodes Ready and CNI pods Running, and for the probe pods (default 300)')
      .option('--check-timeout <seconds>', 'how long each kubectl exec/logs may take (default 10)')
      .option('--internet <host:port>', 'the internet target pods must reach (default 223.5.5.5:443)')
      .option('--external <host:port...>', 'hosts outside the cluster pods must reach (e.g. an ECS database)')
      .option('--junit-file <path>', 'also write the results as JUnit XML, for CI')
      .option('--keep', 'leave the probe namespace in place, for debugging')
      .option('--kubeconfig <path>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, /etc/kubernetes/admin.conf)'),
  ).action(action(async () => (await import('./commands/verify.js')).run as Action));

  const alicloud = program
    .command('alicloud')
    .description('Alibaba Cloud facts for Terway: this instance, an instance type\'s pod budget, the RAM policy');
  const alicloudAction = (name: 'detect' | 'maxPods' | 'ramPolicy') =>
    action(async () => (await import('./commands/alicloud.js'))[name] as Action);
  alicloud
    .command('detect')
    .description('what the ECS metadata service says about this instance (exit 1 off ECS)')
    .action(alicloudAction('detect'));
  alicloud
    .command('max-pods')
    .description("Terway's pods per node for instance types (ECS DescribeInstanceTypes), and kubelet's maxPods")
    .option('--instance-type <type...>', 'instance types, e.g. ecs.g7.large (default: this instance\'s)')
    .addOption(new Option('--mode <mode>', 'Terway mode: shared ENI (eniip) or exclusive ENI (eni)').choices(['eniip', 'eni']).default('eniip'))
    .addOption(new Option('--role <role>', 'the node role, for its host-network pods').choices(['control-plane', 'worker']).default('worker'))
    .option('--region <region>', 'region id, e.g. cn-hangzhou (default: the spec\'s alicloud.region, else this instance\'s)')
    .option('--pods-per-node <n>', 'warn when a type holds fewer pods (default: network.terway.podsPerNode, 16)')
    .option('-f, --config <file>', 'cluster spec (for alicloud.region, endpoints and podsPerNode)')
    .action(alicloudAction('maxPods'));
  alicloud
    .command('ram-policy')
    .description('the RAM policy Terway (and knit\'s checks) need, as JSON for the RAM console or `aliyun ram CreatePolicy`')
    .option('--terway-only', "only Terway's own actions")
    .action(alicloudAction('ramPolicy'));

  addSkipOption(addDryRunOption(
    program
      .command('reset')
      .description('undo kubeadm init/join and what it leaves behind (CNI config, interfaces, knit rules)')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--kubeconfig', "also remove this user's $HOME/.kube/config"),
  )).action(action(async () => (await import('./commands/reset.js')).run as Action));

  return program;
}

/** `knit render | head`: a reader that closed the pipe has all it wanted; stop quietly. */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

export async function main(argv: string[]): Promise<number> {
  const { installSignalHandling, signalReceived, exitCodeAfterSignal, restoreTerminal } = await import('./ui/signals.js');
  installSignalHandling();
  const code = await dispatch(argv);
  if (!signalReceived()) return code;
  // a command that cancelled by itself has returned: end now, also the processes it left running (a
  // kubectl it stopped waiting for), with the signal's exit code
  restoreTerminal();
  process.exit(exitCodeAfterSignal(code));
}

async function dispatch(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe(process.stdout);
  commandArgs = argv.slice(2);
  const program = buildProgram();
  const debug = argv.includes('--debug');
  try {
    // Bare `knit`: the wizard on a terminal; elsewhere, the help and a usage error.
    const bare = argv.length <= 2;
    if (bare && !(process.stdin.isTTY && process.stdout.isTTY)) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(bare ? [...argv, 'init', '--interactive'] : argv);
    return 0;
  } catch (err) {
    if (err instanceof ExitWith) return err.code;
    if (err instanceof CommanderError) {
      // commander already printed its message; help and --version are successes
      return err.exitCode === 0 ? 0 : 2;
    }
    if ((err as Error)?.name === 'ExitPromptError') {
      // Ctrl-C at a prompt: every question comes before any change
      process.stderr.write('cancelled; nothing was changed\n');
      return 130;
    }
    const { KnitError } = await import('./errors.js');
    const { redact } = await import('./ui/redact.js');
    const e = err as Error;
    process.stderr.write(redact(`error: ${e.message}\n`));
    if (err instanceof KnitError) {
      for (const line of err.details) process.stderr.write(redact(`${line}\n`));
      if (debug && e.stack) process.stderr.write(redact(`${e.stack}\n`));
      return err.exitCode;
    }
    process.stderr.write(debug && e.stack ? redact(`${e.stack}\n`) : 'run again with --debug for the stack trace\n');
    return 1;
  }
}
