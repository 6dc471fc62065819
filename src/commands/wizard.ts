/**
 * The wizard (bare `knit` at a terminal, or `knit init --interactive`): detect this host, ask what
 * detection cannot know, save the answers as a cluster spec (`--save`), then hand over to `init` or
 * `join`, which show the plan and ask before changing anything. Ctrl-C at any of the wizard's
 * questions exits 130 with nothing changed and nothing saved; declining the plan keeps the saved answers.
 */
import { KnitError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../host/files.js';
import { formatArgv } from '../runner/describe.js';
import { stringifySpecInput } from '../spec/load.js';
import type { Detected } from '../wizard/questions.js';
import { detectEcs } from '../command-support/alicloud-facts.js';
import type { CommandContext } from '../command-support/context.js';
import { run as runInit, type InitOptions } from './init.js';
import { run as runJoin } from './join.js';
import { readSpecFile } from '../command-support/spec-source.js';

export interface WizardOptions extends InitOptions {
  save?: string;
}

/** IPv4 addresses on this host's NICs (`ip -j -4 addr`), lo left out, and the default route's NIC. */
async function hostInterfaces(ctx: CommandContext): Promise<{ interfaces: Detected['interfaces']; defaultIP?: string }> {
  const [addrs, routes] = await Promise.all([
    ctx.exec(['ip', '-j', '-4', 'addr', 'show']).catch(() => undefined),
    ctx.exec(['ip', '-j', '-4', 'route', 'show', 'default']).catch(() => undefined),
  ]);
  const parse = <T>(text: string | undefined): T[] => {
    try {
      return JSON.parse(text ?? '[]') as T[];
    } catch {
      return [];
    }
  };
  const links = parse<{ ifname: string; addr_info?: { local?: string }[] }>(addrs?.exitCode === 0 ? addrs.stdout : undefined);
  const interfaces = links
    .filter((l) => l.ifname !== 'lo')
    .flatMap((l) => (l.addr_info ?? []).flatMap((a) => (a.local ? [{ name: l.ifname, ip: a.local }] : [])));
  const dev = parse<{ dev?: string }>(routes?.exitCode === 0 ? routes.stdout : undefined)[0]?.dev;
  return { interfaces, ...(dev ? { defaultIP: interfaces.find((i) => i.name === dev)?.ip } : {}) };
}

export async function detectForWizard(ctx: CommandContext): Promise<Detected> {
  const [{ identity, notOnEcs }, nics] = await Promise.all([detectEcs(ctx), hostInterfaces(ctx)]);
  const privateIP = identity?.privateIP ?? nics.defaultIP ?? nics.interfaces[0]?.ip;
  return {
    hostname: identity?.hostname ?? ctx.hostname,
    interfaces: nics.interfaces,
    ...(privateIP ? { privateIP } : {}),
    ...(identity?.publicIP ? { publicIP: identity.publicIP } : {}),
    ...(identity
      ? { ecs: { regionId: identity.regionId, zoneId: identity.zoneId, instanceId: identity.instanceId, instanceType: identity.instanceType, vpcId: identity.vpcId, vswitchId: identity.vswitchId } }
      : { notOnEcs: notOnEcs ?? 'no instance metadata' }),
  };
}

export async function run(opts: WizardOptions, ctx: CommandContext): Promise<number> {
  if (!ctx.interactive)
    throw new UsageError('--interactive: the wizard needs a terminal; in scripts use `knit init --config FILE --yes` (the wizard\'s --save writes one)');
  if (ctx.out.format === 'json') throw new UsageError('--output json: the wizard talks to a person; for JSON use `knit init --config FILE --yes -o json`');
  const { askCluster } = await import('../wizard/wizard.js');
  const initial = opts.config !== undefined ? await readSpecFile(opts.config, ctx.hostname) : undefined;
  const answers = await askCluster({ detected: await detectForWizard(ctx), ...(initial ? { initial } : {}), print: (l) => ctx.out.note(l) });
  const specText = stringifySpecInput(answers.spec);

  // no default: Enter on an empty line means "do not save", as the question says
  const save = opts.save ?? (await (await import('@inquirer/prompts')).input({ message: 'Save the answers to a file, e.g. cluster.yaml (empty: do not save)' }));
  const j = answers.join;
  const replay = formatArgv([
    'knit',
    ...(j
      ? ['join', '--config', save, '--node-name', answers.localNode, '--endpoint', j.endpoint, '--token', '<token>', '--ca-cert-hash', j.caCertHash, ...(j.controlPlane ? ['--control-plane', '--certificate-key', '<key>'] : [])]
      : ['init', '--config', save, '--node-name', answers.localNode]),
    ...(opts.skip?.length ? ['--skip', ...opts.skip] : []),
    ...(opts.ignorePreflightErrors?.length ? ['--ignore-preflight-errors', ...opts.ignorePreflightErrors] : []),
    ...(opts.showCertificateKey ? ['--show-certificate-key'] : []),
    '--yes',
  ]);
  if (save) {
    try {
      await writeFileAtomic(save, specText, 0o600); // 0600 whatever mode an existing file had; never through a link
    } catch (e) {
      if (e instanceof KnitError) throw e;
      throw new UsageError(`--save: cannot write ${save}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    ctx.out.note(`saved ${save}; replay without questions: ${replay}${j ? ' (fill in the token and key as printed by knit init)' : ''}`);
  }

  const common = {
    ...opts,
    config: undefined,
    specText: { name: save || "the wizard's answers", text: specText },
    nodeName: answers.localNode,
    // after a failure, the saved answers resume without a question; without a file, the wizard again
    ...(save ? { resumeCommand: replay } : {}),
  };
  if (!answers.join) return runInit(common, ctx);
  return runJoin({ ...common, ...answers.join }, ctx);
}
