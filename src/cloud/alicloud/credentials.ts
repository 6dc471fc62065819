/**
 * Alibaba Cloud credentials, from @alicloud/credentials' standard chain: the ALIBABA_CLOUD_ACCESS_KEY_*
 * environment (+ ALIBABA_CLOUD_SECURITY_TOKEN), OIDC, the aliyun CLI profile, ~/.alibabacloud/credentials,
 * then the ECS instance RAM role. The secret and the STS token are registered with the redactor the
 * moment they are read, so no output of knit can carry them.
 *
 * The library asks the RAM role of the fixed address 100.100.100.200. When KNIT_ECS_METADATA_URL points
 * knit's metadata client elsewhere (a proxy, a test), that step of the chain asks the same metadata
 * client instead, so every metadata read goes to one place.
 */
import { CloudError } from '../../errors.js';
import { registerSecret } from '../../ui/redact.js';
import type { MetadataClient } from './metadata.js';

const loadCredentialsSdk = async () => (await import('@alicloud/credentials')).default;
type CredentialsSdk = Awaited<ReturnType<typeof loadCredentialsSdk>>;
type Provider = ConstructorParameters<CredentialsSdk['default']>[1] & {
  getCredentials(): Promise<{ accessKeyId: string; accessKeySecret: string; securityToken: string; providerName: string }>;
  getProviderName(): string;
};

export interface ResolvedCredentials {
  /** What the SDK's Config takes as `credential`. */
  credential: InstanceType<CredentialsSdk['default']>;
  /** Where they came from, e.g. `env`, `profile`, `ecs_ram_role` (said to the user, never the key). */
  source: string;
  accessKeyId: string;
}

/** The ECS RAM role, read through knit's metadata client: `ram/security-credentials/<role>`. */
function metadataRamRoleProvider(metadata: MetadataClient): Provider {
  return {
    getProviderName: () => 'ecs_ram_role',
    async getCredentials() {
      const role = (await metadata.get('ram/security-credentials/').catch(() => undefined))?.split('\n')[0]?.trim();
      if (!role) throw new Error('ecs_ram_role: this instance has no RAM role');
      const body = await metadata.get(`ram/security-credentials/${role}`);
      let sts: { Code?: string; AccessKeyId?: string; AccessKeySecret?: string; SecurityToken?: string };
      try {
        sts = JSON.parse(body ?? '{}') as typeof sts;
      } catch {
        // JSON.parse's message quotes the body, which holds the secret
        throw new Error(`ecs_ram_role: the metadata service's answer for role ${role} is not JSON`);
      }
      if (sts.Code !== 'Success' || !sts.AccessKeyId || !sts.AccessKeySecret || !sts.SecurityToken)
        throw new Error(`ecs_ram_role: the metadata service gave no credentials for role ${role} (Code ${sts.Code ?? 'missing'})`);
      return { accessKeyId: sts.AccessKeyId, accessKeySecret: sts.AccessKeySecret, securityToken: sts.SecurityToken, providerName: 'ecs_ram_role' };
    },
  } as Provider;
}

/**
 * A provider's failure without what it received: some of the library's providers put the response
 * body (which can hold a secret the redactor has not seen yet) into their error message.
 */
const withoutPayload = (message: string): string =>
  message.split('\n')[0]!.replace(/[{"\[].*$/, '<response omitted>').replace(/(result|response|body|unmarshal fail)\s*[:=].*$/i, '$1: <response omitted>').slice(0, 160);

/** The first provider that answers wins; the error lists why each one did not. */
function firstOf(providers: Provider[]): Provider {
  return {
    getProviderName: () => 'default',
    async getCredentials() {
      const reasons: string[] = [];
      for (const p of providers) {
        try {
          return await p.getCredentials();
        } catch (e) {
          reasons.push(withoutPayload((e as Error).message));
        }
      }
      throw new Error(reasons.join('; '));
    },
  } as Provider;
}

/** A provider whose builder throws (its settings are absent, e.g. no OIDC variables) is not in the chain. */
function built(build: () => unknown): Provider[] {
  try {
    return [build() as Provider];
  } catch {
    return [];
  }
}

/** The first credentials of the chain; `metadata` is knit's metadata client (its RAM role when redirected). */
export async function resolveCredentials(metadata: MetadataClient, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedCredentials> {
  const sdk = await loadCredentialsSdk();
  const credentialsUri = env.ALIBABA_CLOUD_CREDENTIALS_URI;
  // the library's default chain, spelled out: its own would also ask an unset credentials URI ("https://undefined/")
  const provider = firstOf([
    ...built(() => sdk.EnvironmentVariableCredentialsProvider.builder().build()),
    ...built(() => sdk.OIDCRoleArnCredentialsProvider.builder().build()),
    ...built(() => sdk.CLIProfileCredentialsProvider.builder().build()),
    ...built(() => sdk.ProfileCredentialsProvider.builder().build()),
    ...(metadata.overridden
      ? [metadataRamRoleProvider(metadata)]
      : built(() => sdk.ECSRAMRoleCredentialsProvider.builder().withRoleName(env.ALIBABA_CLOUD_ECS_METADATA as string).build())),
    ...(credentialsUri ? built(() => sdk.URICredentialsProvider.builder().withCredentialsURI(credentialsUri).build()) : []),
  ]);
  const credential = new sdk.default(null, provider);
  let model;
  try {
    model = await credential.getCredential();
  } catch (e) {
    throw new CloudError('no Alibaba Cloud credentials found', [
      'give them as ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, in ~/.alibabacloud/credentials, or attach a RAM role to this ECS instance',
      `(the chain said: ${(e as Error).message.split('\n')[0]})`,
    ]);
  }
  registerSecret(model.accessKeySecret);
  registerSecret(model.securityToken);
  return {
    credential,
    source: (model.providerName ?? 'unknown').replace(/^default\//, ''),
    accessKeyId: model.accessKeyId ?? '',
  };
}
