/**
 * The CNI manifests for a command: templates from the package, the node interface's MTU (on the host)
 * or an ECS NIC's 1500 (offline), and Terway's AccessKey from the environment when the spec asks for it.
 */
import { renderCni, type RenderedCni } from '../cni/index.js';
import type { AccessKey } from '../cni/types.js';
import { CNI } from '../defaults.js';
import { CloudError, StepError } from '../errors.js';
import { readTemplate } from '../host/templates.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { registerSecret } from '../ui/redact.js';
import type { CommandContext } from './context.js';

export const ACCESS_KEY_ENV = { id: 'ALIBABA_CLOUD_ACCESS_KEY_ID', secret: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET' } as const;

/** The AccessKey Terway gets as a Secret, when network.terway.credentials is access-key. Never printed. */
export function terwayAccessKey(spec: Spec, env: NodeJS.ProcessEnv): AccessKey | undefined {
  const usesTerway = spec.network.plugin === 'terway';
  if (!usesTerway || spec.network.terway.credentials !== 'access-key') return undefined;
  const accessKeyId = env[ACCESS_KEY_ENV.id];
  const accessKeySecret = env[ACCESS_KEY_ENV.secret];
  if (!accessKeyId || !accessKeySecret)
    throw new CloudError(`network.terway.credentials: access-key needs ${ACCESS_KEY_ENV.id} and ${ACCESS_KEY_ENV.secret} in the environment (or use ram-role)`);
  registerSecret(accessKeySecret);
  return { accessKeyId, accessKeySecret };
}

/** MTU of the interface that holds the node's private IP (`ip -j addr`); 1500 when it cannot be read. */
export async function hostMtu(ctx: CommandContext, node: NodeSpec): Promise<number> {
  const r = await ctx.exec(['ip', '-j', '-4', 'addr', 'show']).catch(() => undefined);
  if (!r || r.exitCode !== 0) return CNI.offlineHostMtu;
  try {
    const links = JSON.parse(r.stdout) as { mtu?: number; addr_info?: { local?: string }[] }[];
    return links.find((l) => l.addr_info?.some((a) => a.local === node.privateIP))?.mtu ?? CNI.offlineHostMtu;
  } catch {
    return CNI.offlineHostMtu;
  }
}

/** Refuses a CNI manifest that a Kubernetes API schema would reject, naming each object and why. */
export async function assertValidCni(yaml: string): Promise<void> {
  const { validateManifest } = await import('../cni/validate.js');
  const problems = await validateManifest(yaml);
  if (problems.length > 0)
    throw new StepError('cni/validate', `the rendered CNI manifest fails schema validation (${problems.length} object${problems.length === 1 ? '' : 's'})`, problems.map((p) => `${p.object}: ${p.message}`));
}

export const renderCniFor = (spec: Spec, ctx: CommandContext, mtu: number): RenderedCni =>
  renderCni({ spec, hostMtu: mtu, template: readTemplate, accessKey: terwayAccessKey(spec, ctx.env) });
