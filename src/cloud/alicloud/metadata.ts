/**
 * The ECS instance metadata service: plain-text answers under /latest/meta-data/, with the hardened
 * mode's session token when the service offers one. Short timeouts: off ECS nothing answers, and knit
 * must say so within about a second. Answers are cached (the service throttles).
 */
export const DEFAULT_METADATA_URL = 'http://100.100.100.200/latest/meta-data/';
const TIMEOUT_MS = 1000;
const TOKEN_TTL_S = 300;

export class MetadataClient {
  private readonly base: URL;
  private token?: Promise<string | undefined>;
  private readonly cache = new Map<string, Promise<string | undefined>>();

  /** `baseUrl` from $KNIT_ECS_METADATA_URL (tests, proxies); the link-local ECS address otherwise. */
  constructor(baseUrl = DEFAULT_METADATA_URL) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  }

  /** Hardened mode (IMDSv2-like): PUT /latest/api/token; a service without it answers without a token. */
  private sessionToken(): Promise<string | undefined> {
    this.token ??= fetch(new URL('../api/token', this.base), {
      method: 'PUT',
      headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': String(TOKEN_TTL_S) },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).then(
      async (r) => (r.ok ? (await r.text()).trim() : undefined),
      () => undefined,
    );
    return this.token;
  }

  /** A metadata value; undefined when the path does not exist (404, e.g. `eipv4` without an EIP). */
  get(path: string): Promise<string | undefined> {
    let cached = this.cache.get(path);
    if (!cached) {
      cached = (async () => {
        const token = await this.sessionToken();
        const r = await fetch(new URL(path, this.base), {
          headers: token ? { 'X-aliyun-ecs-metadata-token': token } : {},
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        if (r.status === 404) return undefined;
        if (!r.ok) throw new Error(`metadata ${path}: HTTP ${r.status}`);
        return (await r.text()).trim();
      })();
      this.cache.set(path, cached);
    }
    return cached;
  }

  /** The EIP of the primary NIC, or undefined (no EIP, or not on ECS: the error says which). */
  async eip(): Promise<{ ip?: string; error?: string }> {
    try {
      return { ip: await this.get('eipv4') };
    } catch (e) {
      const err = e as Error;
      const reason = err.name === 'TimeoutError' || err.name === 'AbortError' ? 'no answer within 1 s: not on ECS?' : err.message;
      return { error: `the ECS metadata service (${this.base.href}) is not reachable (${reason})` };
    }
  }
}
