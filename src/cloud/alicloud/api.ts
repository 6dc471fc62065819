/**
 * The ECS and VPC OpenAPI, through Alibaba Cloud's own SDK. The SDK costs ~0.8 s to load, so it is
 * imported only when a command really calls the API; `knit --help` and offline renders never do.
 * Calls return plain data (the shapes the pure checks need); failures become knit errors that say
 * what to do: credentials and permissions exit 4, throttling and timeouts exit 1 after retries.
 */
import { ALICLOUD } from '../../defaults.js';
import { CloudError, KnitError, ExitCode } from '../../errors.js';
import type { ResolvedCredentials } from './credentials.js';

/** What knit reads of an instance: the rest (addresses, zone, vSwitch) comes from the metadata service. */
export interface InstanceInfo {
  instanceId: string;
  instanceType: string;
  vpcId: string;
  securityGroupIds: string[];
}

export interface InstanceTypeLimits {
  instanceType: string;
  /** ENIs the type holds, the primary one included. */
  eniQuantity: number;
  /** Private IPv4 addresses per ENI, the ENI's primary address included. */
  eniPrivateIpAddressQuantity: number;
}

export interface VSwitchInfo {
  vswitchId: string;
  vpcId: string;
  zoneId: string;
  cidr: string;
  availableIps: number;
}

export interface SnatEntryInfo {
  natGatewayId: string;
  snatTableId: string;
  snatIp: string;
  sourceVSwitchId?: string;
  sourceCidr?: string;
}

export interface NatGatewayInfo {
  natGatewayId: string;
  snatTableIds: string[];
}

/** A route table of the VPC (DescribeRouteTableList): the System one, or a custom one bound to vSwitches. */
export interface RouteTableInfo {
  routeTableId: string;
  /** System or Custom. */
  routeTableType: string;
  /** The vSwitches bound to it (a custom table's; the System table serves every other vSwitch). */
  vSwitchIds: string[];
}

/** One entry of a route table (DescribeRouteEntryList). */
export interface RouteEntryInfo {
  routeEntryId?: string;
  routeEntryName?: string;
  destinationCidr: string;
  /** Custom, System, BGP, CEN, ECR. */
  type: string;
  /** Pending, Available, Modifying. */
  status: string;
  /** Type (VpnGateway, Instance, RouterInterface, …) and id of each next hop; several for ECMP. */
  nextHops: { type: string; id: string }[];
}

/**
 * One inbound rule of a security group, as DescribeSecurityGroupAttribute lists it. Exactly one source
 * is set: an IPv4 CIDR, an IPv6 CIDR, another security group, or a prefix list.
 */
export interface SecurityGroupRule {
  /** `sgr-…`; what RevokeSecurityGroup takes to delete exactly this rule. */
  ruleId?: string;
  /** Upper case, as the API answers it: TCP, UDP, ICMP, GRE, ALL, or an IANA protocol number. */
  protocol: string;
  /** `8472/8472`, `1/65535`; `-1/-1` for ALL, ICMP and GRE; empty when the rule uses a port list. */
  portRange: string;
  portRangeListId?: string;
  sourceCidr?: string;
  ipv6SourceCidr?: string;
  sourceGroupId?: string;
  sourcePrefixListId?: string;
  policy: 'accept' | 'drop';
  /** 1 (first) to 100. */
  priority: number;
  description?: string;
}

export interface SecurityGroupInfo {
  securityGroupId: string;
  name: string;
  vpcId: string;
  /** A basic group's internal policy: Accept lets its members reach each other over the private network. */
  innerAccessPolicy?: string;
  /** The inbound rules only. */
  ingress: SecurityGroupRule[];
}

/** An API failure that is not about credentials: throttled, timed out, or a service error (exit 1). */
export class CloudApiError extends KnitError {
  readonly exitCode = ExitCode.stepFailed;
}

export interface ApiEndpoints {
  /** host[:port] or http(s)://host[:port]; the SDK's public endpoint for the region when absent. */
  ecs?: string;
  vpc?: string;
}

/**
 * The SDK takes host[:port] without a scheme, and a separate protocol; users give either form.
 * `ecs.cn-hangzhou.aliyuncs.com` → https; `http://127.0.0.1:8080` → http.
 */
export function parseEndpoint(value: string): { endpoint: string; protocol: 'http' | 'https' } {
  const m = /^(?:(https?):\/\/)?([^/]+)\/?$/i.exec(value.trim());
  if (!m) throw new CloudError(`endpoint ${JSON.stringify(value)} is not HOST[:PORT] or http(s)://HOST[:PORT]`);
  return { endpoint: m[2]!, protocol: (m[1]?.toLowerCase() as 'http' | 'https' | undefined) ?? 'https' };
}

/** Codes that mean "who you are or what you may do", as the ECS/VPC APIs and the SDK report them. */
const CREDENTIAL_CODES = /^(InvalidAccessKeyId|InvalidAccessKeySecret|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken|MissingSecurityToken|InvalidCredentials|CredentialException|Unauthorized|InvalidAuthorization)/i;
const PERMISSION_CODES = /^(Forbidden|NoPermission)/i;
const RETRYABLE_CODES = /^(Throttling|ServiceUnavailable|InternalError|UnknownError|OperationConflict)/i;

interface SdkError {
  code?: string;
  message?: string;
  statusCode?: number;
  name?: string;
  data?: { RequestId?: string; Message?: string; Recommend?: string };
}

const isTimeout = (e: SdkError): boolean =>
  /timeout|ETIMEDOUT|ECONNRESET|socket hang up/i.test(`${e.name ?? ''} ${e.code ?? ''} ${e.message ?? ''}`);
const isUnreachable = (e: SdkError): boolean => /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/i.test(`${e.code ?? ''} ${e.message ?? ''}`);

/** What knit reads with each action, when the caller did not say it more exactly. */
const PURPOSES: Record<string, string> = {
  DescribeInstances: 'reading the instance (its type, VPC and security groups)',
  DescribeInstanceTypes: "reading instance types' ENI limits",
  DescribeSecurityGroupAttribute: "reading a security group's rules",
  DescribeVSwitches: 'reading the pod vSwitches',
  DescribeNatGateways: "listing the VPC's internet NAT gateways",
  DescribeSnatTableEntries: 'reading SNAT entries',
  DescribeRouteTableList: "listing the VPC's route tables",
  DescribeRouteEntryList: 'reading the entries of a route table',
};

/** What was being done when a call failed, for the error: knit's words, the credentials' source. */
export interface ApiCallContext {
  /** `reading the ENI limits of ecs.g7.large`: what knit was doing (PURPOSES otherwise). */
  purpose?: string;
  /** Where the credentials came from (`env`, `profile`, `ecs_ram_role`, …). */
  credentialsSource?: string;
}

/** What a refused credential means, by code. */
function refusal(code: string): string {
  if (/^InvalidAccessKeyId/i.test(code)) return 'Alibaba Cloud knows no such AccessKey ID (deleted, disabled, or of another account or site)';
  if (/^(SignatureDoesNotMatch|IncompleteSignature|InvalidAccessKeySecret)/i.test(code)) return 'the AccessKey secret does not belong to the AccessKey ID';
  if (/^InvalidSecurityToken\.Expired/i.test(code)) return 'the STS security token has expired';
  if (/SecurityToken/i.test(code)) return 'the STS security token is missing or does not belong to the AccessKey ID';
  return 'Alibaba Cloud did not accept them';
}

/** Where to look, by the credentials' source. */
function credentialsFix(source: string | undefined): string {
  if (source === 'env') return 'check ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN with STS credentials), or unset them to use the next source';
  if (source?.startsWith('cli_profile') || source?.startsWith('profile'))
    return 'check the profile (~/.aliyun/config.json, ~/.alibabacloud/credentials), or give ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET';
  if (source === 'ecs_ram_role') return "the instance RAM role's temporary credentials were refused: check the role attached to the instance in the ECS console, then run again";
  return 'check ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET, the profile, or the instance RAM role';
}

/** The retryable failures, said as what happened. */
function retryFailure(api: string, code: string): { what: string; fix: string } {
  if (/^Throttling/i.test(code)) return { what: 'Alibaba Cloud throttled the calls', fix: 'wait a minute and run the command again (knit only reads from the API; nothing was changed there)' };
  if (/^OperationConflict/i.test(code)) return { what: 'another operation on the resource was in progress', fix: 'wait until it is done, then run the command again' };
  return { what: `the ${api} API failed`, fix: "run the command again in a few minutes; if it keeps failing, Alibaba Cloud's status page or support can tell why (give them the request id)" };
}

/**
 * Turns an SDK error into a knit error: the headline in knit's words (the call, what went wrong), then
 * what knit was doing, what to do, and last the SDK's own text and request id, kept as they are.
 */
export function describeApiError(
  api: string,
  action: string,
  err: unknown,
  endpoint: string,
  timeoutMs: number = ALICLOUD.apiTimeoutMs,
  context: ApiCallContext = {},
): KnitError {
  const e = err as SdkError;
  const code = e.code ?? '';
  const message = (e.data?.Message ?? e.message?.replace(/^code: \d+, /, '').replace(/ request id: .*$/, '') ?? String(err))
    // the gateway appends its canonical request to a signature error: long, and nothing to act on
    .replace(/\s*server string to sign is:[\s\S]*$/, ' (string to sign omitted)')
    .replace(/\s+/g, ' ')
    .trim();
  const what = `${api} ${action}`;
  const tried = `knit was ${context.purpose ?? PURPOSES[action] ?? `calling ${what}`} from ${endpoint}`;
  const said = [`Alibaba Cloud's answer: ${code ? `${code}: ` : ''}${message}${e.data?.RequestId ? ` (request id ${e.data.RequestId})` : ''}`];
  const attempts = ALICLOUD.apiRetries + 1;
  if (PERMISSION_CODES.test(code))
    return new CloudError(`${what}: permission denied (${code}): the credentials lack ${api.toLowerCase()}:${action}`, [
      tried,
      'grant it: `knit alicloud ram-policy` prints the policy Terway and knit need; attach it to the RAM user or role',
      ...said,
    ]);
  if (CREDENTIAL_CODES.test(code))
    return new CloudError(`${what}: the credentials were refused (${code}): ${refusal(code)}`, [
      `${tried}, signed with the credentials from ${context.credentialsSource ?? 'the standard chain'}`,
      credentialsFix(context.credentialsSource),
      ...said,
    ]);
  if (RETRYABLE_CODES.test(code)) {
    const f = retryFailure(api, code);
    return new CloudApiError(`${what}: ${f.what} (${code}) on all ${attempts} attempts`, [tried, f.fix, ...said]);
  }
  if (isTimeout(e))
    return new CloudApiError(`${what}: no answer from ${endpoint} within ${timeoutMs / 1000} s (${attempts} attempts)`, [
      tried,
      `check the route to the endpoint, or ${endpointHint(api)}`,
      `the SDK said: ${message}`,
    ]);
  if (isUnreachable(e)) return new CloudApiError(`${what}: cannot reach ${endpoint} (${code || 'no connection'})`, [tried, endpointHint(api), `the SDK said: ${message}`]);
  if (/NotFound$/i.test(code))
    return new CloudApiError(`${what}: Alibaba Cloud does not know what knit asked for (${code})`, [
      tried,
      'check the ids in the spec (nodes[].instanceId, network.terway.vswitches, network.terway.securityGroups) and that they are in alicloud.region',
      ...said,
    ]);
  if (code)
    return new CloudApiError(`${what}: Alibaba Cloud refused the call (${code})`, [
      tried,
      /^(Invalid|Missing)/i.test(code)
        ? 'check the ids and the region in the spec; when they are right, this is a bug in knit: report it with this output'
        : 'run the command again; if it keeps failing, report it with this output',
      ...said,
    ]);
  return new CloudApiError(`${what}: the call failed`, [tried, 'run the command again; if it keeps failing, run it with --debug and report the output', `the SDK said: ${message}`]);
}

const endpointHint = (api: string): string =>
  api === 'ECS'
    ? 'set alicloud.endpoint (or $KNIT_ALICLOUD_ENDPOINT) to an ECS endpoint this host reaches, e.g. the VPC endpoint ecs-vpc.<region>.aliyuncs.com'
    : 'set alicloud.vpcEndpoint (or $KNIT_ALICLOUD_VPC_ENDPOINT) to a VPC API endpoint this host reaches, e.g. vpc-vpc.<region>.aliyuncs.com';

const retryable = (e: SdkError): boolean => RETRYABLE_CODES.test(e.code ?? '') || isTimeout(e);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AlicloudApiOptions {
  regionId: string;
  credentials: ResolvedCredentials;
  endpoints?: ApiEndpoints;
  /** Per-request timeout; ALICLOUD.apiTimeoutMs by default. */
  timeoutMs?: number;
}

// The SDK packages are CommonJS: `default` is module.exports, holding the client (its own `default`) and the models.
const loadEcsSdk = async () => (await import('@alicloud/ecs20140526')).default;
const loadVpcSdk = async () => (await import('@alicloud/vpc20160428')).default;
type EcsSdk = Awaited<ReturnType<typeof loadEcsSdk>>;
type VpcSdk = Awaited<ReturnType<typeof loadVpcSdk>>;

export class AlicloudApi {
  private ecsClient?: Promise<{ sdk: EcsSdk; client: InstanceType<EcsSdk['default']> }>;
  private vpcClient?: Promise<{ sdk: VpcSdk; client: InstanceType<VpcSdk['default']> }>;

  constructor(private readonly o: AlicloudApiOptions) {}

  private async config(endpoint: string | undefined) {
    const { Config } = (await import('@alicloud/openapi-core')).default.$OpenApiUtil;
    const timeout = this.o.timeoutMs ?? ALICLOUD.apiTimeoutMs;
    const at = endpoint !== undefined ? parseEndpoint(endpoint) : undefined;
    return new Config({
      credential: this.o.credentials.credential,
      regionId: this.o.regionId,
      ...(at ? { endpoint: at.endpoint, protocol: at.protocol } : {}),
      connectTimeout: timeout,
      readTimeout: timeout,
    });
  }

  private ecs() {
    this.ecsClient ??= (async () => {
      const sdk = await loadEcsSdk();
      return { sdk, client: new sdk.default(await this.config(this.o.endpoints?.ecs)) };
    })();
    return this.ecsClient;
  }

  private vpc() {
    this.vpcClient ??= (async () => {
      const sdk = await loadVpcSdk();
      return { sdk, client: new sdk.default(await this.config(this.o.endpoints?.vpc)) };
    })();
    return this.vpcClient;
  }

  /** One call with retries on throttling and timeouts (backing off), every other error at once. */
  private async call<T>(api: 'ECS' | 'VPC', action: string, purpose: string, fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.o.timeoutMs ?? ALICLOUD.apiTimeoutMs;
    const endpoint = (api === 'ECS' ? this.o.endpoints?.ecs : this.o.endpoints?.vpc) ?? `the ${api} endpoint of ${this.o.regionId}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= ALICLOUD.apiRetries || !retryable(err as SdkError))
          throw describeApiError(api, action, err, endpoint, timeoutMs, { purpose, credentialsSource: this.o.credentials.source });
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  async describeInstance(instanceId: string): Promise<InstanceInfo> {
    const { sdk, client } = await this.ecs();
    const req = new sdk.DescribeInstancesRequest({ regionId: this.o.regionId, instanceIds: JSON.stringify([instanceId]) });
    const res = await this.call('ECS', 'DescribeInstances', `reading instance ${instanceId} in ${this.o.regionId} (its type, VPC and security groups)`, () => client.describeInstances(req));
    const i = res.body?.instances?.instance?.[0];
    if (!i?.instanceId) throw new CloudApiError(`ECS DescribeInstances: no instance ${instanceId} in ${this.o.regionId}`);
    return {
      instanceId: i.instanceId,
      instanceType: i.instanceType ?? '',
      vpcId: i.vpcAttributes?.vpcId ?? '',
      securityGroupIds: i.securityGroupIds?.securityGroupId ?? [],
    };
  }

  /**
   * A security group and its inbound rules, every page (up to 1000 rules a call), as
   * DescribeSecurityGroupAttribute answers them:
   * https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describesecuritygroupattribute
   */
  async describeSecurityGroup(securityGroupId: string): Promise<SecurityGroupInfo> {
    const { sdk, client } = await this.ecs();
    const ingress: SecurityGroupRule[] = [];
    let group: Omit<SecurityGroupInfo, 'ingress'> | undefined;
    for (let nextToken: string | undefined; ; ) {
      const req = new sdk.DescribeSecurityGroupAttributeRequest({
        regionId: this.o.regionId,
        securityGroupId,
        direction: 'ingress',
        maxResults: 1000,
        ...(nextToken ? { nextToken } : {}),
      });
      const res = await this.call('ECS', 'DescribeSecurityGroupAttribute', `reading the rules of security group ${securityGroupId}`, () => client.describeSecurityGroupAttribute(req));
      const b = res.body;
      group ??= {
        securityGroupId: b?.securityGroupId || securityGroupId,
        name: b?.securityGroupName ?? '',
        vpcId: b?.vpcId ?? '',
        ...(b?.innerAccessPolicy ? { innerAccessPolicy: b.innerAccessPolicy } : {}),
      };
      for (const p of b?.permissions?.permission ?? []) {
        if (p.direction && p.direction.toLowerCase() !== 'ingress') continue;
        // the API leaves unused fields as empty strings; the model types Priority as a string
        const set = <K extends keyof SecurityGroupRule>(key: K, value: SecurityGroupRule[K] | undefined | '') => (value ? { [key]: value } : {});
        ingress.push({
          ...set('ruleId', p.securityGroupRuleId),
          protocol: (p.ipProtocol ?? '').toUpperCase(),
          portRange: p.portRange ?? '',
          ...set('portRangeListId', p.portRangeListId),
          ...set('sourceCidr', p.sourceCidrIp),
          ...set('ipv6SourceCidr', p.ipv6SourceCidrIp),
          ...set('sourceGroupId', p.sourceGroupId),
          ...set('sourcePrefixListId', p.sourcePrefixListId),
          policy: (p.policy ?? '').toLowerCase() === 'drop' ? 'drop' : 'accept',
          priority: Number(p.priority) || 1,
          ...set('description', p.description),
        });
      }
      nextToken = b?.nextToken || undefined;
      if (!nextToken) break;
    }
    return { ...group!, ingress };
  }

  async describeInstanceTypes(types: string[]): Promise<InstanceTypeLimits[]> {
    const { sdk, client } = await this.ecs();
    const found = [];
    // InstanceTypes takes at most 10 types a call
    for (let i = 0; i < types.length; i += 10) {
      const req = new sdk.DescribeInstanceTypesRequest({ instanceTypes: types.slice(i, i + 10) });
      const res = await this.call('ECS', 'DescribeInstanceTypes', `reading the ENI limits of ${types.slice(i, i + 10).join(', ')}`, () => client.describeInstanceTypes(req));
      found.push(...(res.body?.instanceTypes?.instanceType ?? []));
    }
    return found.map((t) => ({
      instanceType: t.instanceTypeId ?? '',
      eniQuantity: t.eniQuantity ?? 0,
      eniPrivateIpAddressQuantity: t.eniPrivateIpAddressQuantity ?? 0,
    }));
  }

  /** The vSwitches of this VPC among these ids (one from another VPC is not found). */
  async describeVSwitches(vpcId: string, vswitchIds: string[]): Promise<VSwitchInfo[]> {
    const { sdk, client } = await this.vpc();
    const found: VSwitchInfo[] = [];
    // one call per vSwitch: the VSwitchId parameter takes a single id
    for (const id of vswitchIds) {
      const req = new sdk.DescribeVSwitchesRequest({ regionId: this.o.regionId, vpcId, vSwitchId: id });
      const res = await this.call('VPC', 'DescribeVSwitches', `reading vSwitch ${id} of ${vpcId}`, () => client.describeVSwitches(req));
      for (const v of res.body?.vSwitches?.vSwitch ?? [])
        found.push({ vswitchId: v.vSwitchId ?? id, vpcId: v.vpcId ?? '', zoneId: v.zoneId ?? '', cidr: v.cidrBlock ?? '', availableIps: v.availableIpAddressCount ?? 0 });
    }
    return found;
  }

  /** Every SNAT entry of the VPC's internet NAT gateways (a VPC has a handful; the first 50 are read). */
  async snatEntries(vpcId: string): Promise<{ natGateways: NatGatewayInfo[]; entries: SnatEntryInfo[] }> {
    const { sdk, client } = await this.vpc();
    // internet NAT gateways only: a VPC (intranet) NAT gateway's SNAT entries lead to no internet
    const gwReq = new sdk.DescribeNatGatewaysRequest({ regionId: this.o.regionId, vpcId, networkType: 'internet', pageSize: 50 });
    const gws = await this.call('VPC', 'DescribeNatGateways', `listing the internet NAT gateways of ${vpcId}`, () => client.describeNatGateways(gwReq));
    const natGateways = (gws.body?.natGateways?.natGateway ?? []).map((g) => ({
      natGatewayId: g.natGatewayId ?? '',
      snatTableIds: g.snatTableIds?.snatTableId ?? [],
    }));
    const entries: SnatEntryInfo[] = [];
    for (const gw of natGateways)
      for (const snatTableId of gw.snatTableIds) {
        for (let page = 1; ; page++) {
          const req = new sdk.DescribeSnatTableEntriesRequest({ regionId: this.o.regionId, snatTableId, pageNumber: page, pageSize: 50 });
          const res = await this.call('VPC', 'DescribeSnatTableEntries', `reading SNAT table ${snatTableId}`, () => client.describeSnatTableEntries(req));
          const rows = res.body?.snatTableEntries?.snatTableEntry ?? [];
          for (const e of rows.filter((row) => row.status !== 'Deleting'))
            entries.push({
              natGatewayId: gw.natGatewayId,
              snatTableId,
              snatIp: e.snatIp ?? '',
              ...(e.sourceVSwitchId ? { sourceVSwitchId: e.sourceVSwitchId } : {}),
              ...(e.sourceCIDR ? { sourceCidr: e.sourceCIDR } : {}),
            });
          if (rows.length < 50 || page * 50 >= (res.body?.totalCount ?? 0)) break;
        }
      }
    return { natGateways, entries };
  }

  /**
   * The VPC's route tables, every page (PageSize up to 50), as DescribeRouteTableList answers them:
   * https://www.alibabacloud.com/help/en/vpc/developer-reference/api-vpc-2016-04-28-describeroutetablelist
   */
  async routeTables(vpcId: string): Promise<RouteTableInfo[]> {
    const { sdk, client } = await this.vpc();
    const tables: RouteTableInfo[] = [];
    for (let page = 1; ; page++) {
      const req = new sdk.DescribeRouteTableListRequest({ regionId: this.o.regionId, vpcId, pageNumber: page, pageSize: 50 });
      const res = await this.call('VPC', 'DescribeRouteTableList', `listing the route tables of ${vpcId}`, () => client.describeRouteTableList(req));
      const rows = res.body?.routerTableList?.routerTableListType ?? [];
      for (const t of rows)
        tables.push({ routeTableId: t.routeTableId ?? '', routeTableType: t.routeTableType ?? '', vSwitchIds: t.vSwitchIds?.vSwitchId ?? [] });
      if (rows.length < 50 || page * 50 >= (res.body?.totalCount ?? 0)) break;
    }
    return tables;
  }

  /**
   * Every entry of a route table (MaxResult up to 100 a page, NextToken to the next), as
   * DescribeRouteEntryList answers them:
   * https://www.alibabacloud.com/help/en/vpc/developer-reference/api-vpc-2016-04-28-describerouteentrylist
   */
  async routeEntries(routeTableId: string): Promise<RouteEntryInfo[]> {
    const { sdk, client } = await this.vpc();
    const entries: RouteEntryInfo[] = [];
    for (let nextToken: string | undefined; ; ) {
      const req = new sdk.DescribeRouteEntryListRequest({ regionId: this.o.regionId, routeTableId, maxResult: 100, ...(nextToken ? { nextToken } : {}) });
      const res = await this.call('VPC', 'DescribeRouteEntryList', `reading the entries of route table ${routeTableId}`, () => client.describeRouteEntryList(req));
      for (const e of res.body?.routeEntrys?.routeEntry ?? [])
        entries.push({
          ...(e.routeEntryId ? { routeEntryId: e.routeEntryId } : {}),
          ...(e.routeEntryName ? { routeEntryName: e.routeEntryName } : {}),
          destinationCidr: e.destinationCidrBlock ?? '',
          type: e.type ?? '',
          status: e.status ?? '',
          nextHops: (e.nextHops?.nextHop ?? []).map((h) => ({ type: h.nextHopType ?? '', id: h.nextHopId ?? '' })),
        });
      nextToken = res.body?.nextToken || undefined;
      if (!nextToken) break;
    }
    return entries;
  }
}
