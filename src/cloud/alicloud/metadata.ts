/**
 * The ECS instance metadata service: plain-text answers under /latest/meta-data/, with the hardened
 * mode's session token when the service offers one. Short timeouts: off ECS nothing answers, and knit
 * must say so within about a second. Answers are cached (the service throttles).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ALICLOUD } from '../../defaults.js';

const TIMEOUT_MS = 1000;
const TOKEN_TTL_S = 300;
const RETRIES = 2;

interface Answer {
  status: number;
  ok: boolean;
  body: string;
}

/**
 * One request, on a connection of its own (no keep-alive agent), that is destroyed when TIMEOUT_MS
 * passes without a whole answer. Not fetch: its connect attempt outlives the abort (undici's own 10 s
 * connect timeout), so off ECS, where the address drops packets, the process lingered ~11 s after
 * saying "no answer within 1 s".
 */
function ask(url: URL, method: 'GET' | 'PUT', headers: Record<string, string>): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        settle(() => resolve({ status, ok: status >= 200 && status < 300, body: Buffer.concat(chunks).toString('utf8') }));
      });
      res.on('error', (e) => settle(() => reject(e)));
    });
    const timer = setTimeout(() => {
      const e = new Error(`no answer within ${TIMEOUT_MS} ms`);
      e.name = 'TimeoutError';
      settle(() => reject(e));
      req.destroy(); // the socket (connecting or not) goes with it: nothing keeps the process alive
    }, TIMEOUT_MS);
    req.on('error', (e) => settle(() => reject(e)));
    req.end();
  });
}

export class MetadataClient {
  private readonly base: URL;
  /** Rejects when nothing answers: then every read fails at once instead of waiting out its own timeout. */
  private token?: Promise<string | undefined>;
  private readonly cache = new Map<string, Promise<string | undefined>>();

  /** `baseUrl` from $KNIT_ECS_METADATA_URL (tests, proxies); the link-local ECS address otherwise. */
  constructor(baseUrl: string = ALICLOUD.metadataUrl) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  }

  /** Hardened mode (IMDSv2-like): PUT /latest/api/token; a service without it answers the PUT with an error status. */
  private sessionToken(): Promise<string | undefined> {
    this.token ??= ask(new URL('../api/token', this.base), 'PUT', { 'X-aliyun-ecs-metadata-token-ttl-seconds': String(TOKEN_TTL_S) }).then((r) =>
      r.ok ? r.body.trim() : undefined,
    );
    return this.token;
  }

  /** A metadata value; undefined when the path does not exist (404, e.g. `eipv4` without an EIP). */
  get(path: string): Promise<string | undefined> {
    let cached = this.cache.get(path);
    if (!cached) {
      cached = (async () => {
        const token = await this.sessionToken();
        const read = () => ask(new URL(path, this.base), 'GET', token ? { 'X-aliyun-ecs-metadata-token': token } : {});
        let r = await read();
        // throttled or a passing server error: a service that answered once answers again; silence is not retried
        for (let retry = 1; retry <= RETRIES && (r.status === 429 || r.status >= 500); retry++) {
          await new Promise((done) => setTimeout(done, 100 * retry));
          r = await read();
        }
        if (r.status === 404) return undefined;
        if (!r.ok) throw new Error(`metadata ${path}: HTTP ${r.status}`);
        return r.body.trim();
      })();
      this.cache.set(path, cached);
    }
    return cached;
  }

  /** True when this client asks somewhere other than the ECS address (KNIT_ECS_METADATA_URL). */
  get overridden(): boolean {
    return this.base.href !== ALICLOUD.metadataUrl;
  }

  private unreachable(e: unknown): string {
    const err = e as Error;
    const reason = err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s: not on ECS?` : err.message;
    return `the ECS metadata service (${this.base.href}) is not reachable (${reason})`;
  }

  /** The EIP of the primary NIC, or undefined (no EIP, or not on ECS: the error says which). */
  async eip(): Promise<{ ip?: string; error?: string }> {
    try {
      return { ip: await this.get('eipv4') };
    } catch (e) {
      return { error: this.unreachable(e) };
    }
  }

  /**
   * Who this instance is, in one round of parallel reads; `notOnEcs` says why not when the service
   * does not answer (off ECS, the address is silent and the 1 s timeout decides).
   */
  async identity(): Promise<{ identity?: EcsIdentity; notOnEcs?: string }> {
    try {
      const instanceId = await this.get('instance-id');
      if (!instanceId) return { notOnEcs: `the ECS metadata service (${this.base.href}) has no instance-id` };
      const [[regionId, zoneId, instanceType, privateIP, vpcId, vswitchId], [publicIP, vswitchCidr, mac, roles, hostname]] = await Promise.all([
        Promise.all(['region-id', 'zone-id', 'instance/instance-type', 'private-ipv4', 'vpc-id', 'vswitch-id'].map((p) => this.get(p))),
        // nice to have: a failure here does not make the host "not ECS"
        Promise.all(['eipv4', 'vswitch-cidr-block', 'mac', 'ram/security-credentials/', 'hostname'].map((p) => this.get(p).catch(() => undefined))),
      ]);
      const need = { regionId, zoneId, instanceType, privateIP, vpcId, vswitchId };
      const missing = Object.entries(need).filter(([, v]) => !v).map(([k]) => k);
      if (missing.length > 0) return { notOnEcs: `the ECS metadata service answered without ${missing.join(', ')}` };
      return {
        identity: {
          instanceId, regionId: regionId!, zoneId: zoneId!, instanceType: instanceType!, privateIP: privateIP!, vpcId: vpcId!, vswitchId: vswitchId!,
          ...(publicIP ? { publicIP } : {}),
          ...(vswitchCidr ? { vswitchCidr } : {}),
          ...(mac ? { mac } : {}),
          ...(hostname ? { hostname } : {}),
          ...(roles?.split('\n')[0]?.trim() ? { ramRole: roles.split('\n')[0]!.trim() } : {}),
        },
      };
    } catch (e) {
      return { notOnEcs: this.unreachable(e) };
    }
  }
}

/** What the metadata service says about this instance. */
export interface EcsIdentity {
  instanceId: string;
  regionId: string;
  zoneId: string;
  instanceType: string;
  privateIP: string;
  /** The EIP of the primary NIC (`eipv4`); absent without one. */
  publicIP?: string;
  vpcId: string;
  vswitchId: string;
  vswitchCidr?: string;
  mac?: string;
  hostname?: string;
  /** The instance RAM role's name (Terway's credentials when network.terway.credentials is ram-role). */
  ramRole?: string;
}
