/**
 * The CNI manifests for a command: templates from the package and Terway's AccessKey from the
 * environment when the spec asks for it. The pod MTU is not read here: each node derives its own.
 */
import { renderCni, type RenderedCni } from '../cni/index.js';
import type { AccessKey } from '../cni/types.js';
import { CloudError, StepError } from '../errors.js';
import { readTemplate } from '../host/templates.js';
import type { Spec } from '../spec/schema.js';
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

/** Refuses a CNI manifest that a Kubernetes API schema would reject, naming each object and why. */
export async function assertValidCni(yaml: string): Promise<void> {
  const { validateManifest } = await import('../cni/validate.js');
  const problems = await validateManifest(yaml);
  if (problems.length > 0)
    throw new StepError('cni/validate', `the rendered CNI manifest fails schema validation (${problems.length} object${problems.length === 1 ? '' : 's'})`, problems.map((p) => `${p.object}: ${p.message}`));
}

export const renderCniFor = (spec: Spec, ctx: CommandContext): RenderedCni =>
  renderCni({ spec, template: readTemplate, accessKey: terwayAccessKey(spec, ctx.env) });
