/**
 * A loopback stand-in for Alibaba Cloud: the ECS instance metadata service and the ECS (2014-05-26) and
 * VPC (2016-04-28) OpenAPI, close enough to the real services that the real SDK clients talk to it with
 * only `endpoint` and `protocol: 'http'` changed. It checks the ACS3-HMAC-SHA256 signature the way the
 * gateway does, refuses unknown keys, wrong STS tokens and actions a key's RAM policy lacks, validates
 * required parameters, and answers in the services' PascalCase shapes with their error codes. Faults
 * (throttling, server errors, silence) can be injected per action.
 *
 * Error codes and messages are the services' own; where each comes from is noted at ERRORS below.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  isoSeconds,
  type AccessKey,
  type Instance,
  type InstanceTypeSpec,
  type NatGateway,
  type RouteEntry,
  type RouteTable,
  type SecurityGroup,
  type SecurityGroupRule,
  type SnatEntry,
  type VSwitch,
  type World,
} from './world.js';

/**
 * `throttle`: HTTP 400 Throttling.User. `internal`: HTTP 500 InternalError. `unavailable`: HTTP 503
 * ServiceUnavailable. `timeout`: no answer at all (the client's read timeout decides). `{ delayMs }`: the
 * normal answer, late.
 */
export type Fault = 'throttle' | 'internal' | 'unavailable' | 'timeout' | { delayMs: number };

export interface OpenApiRecord {
  kind: 'openapi';
  method: string;
  path: string;
  /** From x-acs-action / x-acs-version. */
  action: string;
  version: string;
  /** The Credential of the Authorization header, whether or not the key exists. */
  accessKeyId?: string;
  securityToken?: string;
  /** Every parameter as received (query and form body), decoded: `InstanceTypes.1`, `InstanceIds` (a JSON array). */
  params: Record<string, string>;
  signatureOk: boolean;
  /** HTTP status answered; absent while (or when never) answered. */
  status?: number;
  /** The error Code answered, if any. */
  code?: string;
}

export interface MetadataRecord {
  kind: 'metadata';
  method: string;
  path: string;
  /** Whether the request carried X-aliyun-ecs-metadata-token. */
  withToken: boolean;
  status?: number;
}

export type RecordedRequest = OpenApiRecord | MetadataRecord;

export interface StandIn {
  /** host:port, what the SDK's Config.endpoint takes (no scheme). */
  endpoint: string;
  url: string;
  metadataUrl: string;
  requests: RecordedRequest[];
  /** Read on every request: change it between calls. */
  world: World;
  /** Inject (or with undefined, clear) a fault for one action or every action ('*'); `times` limits how often it fires. */
  fault(action: string, fault: Fault | undefined, opts?: { times?: number }): void;
  close(): Promise<void>;
}

export interface StandInOptions {
  /** A fixed port; a random free one by default. */
  port?: number;
}

const SIGNATURE_ALGORITHM = 'ACS3-HMAC-SHA256';
const MAX_METADATA_TOKEN_TTL_S = 21600;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * The errors, as the gateway and the services answer them.
 * - InvalidAction.NotFound 404 "Specified api is not found, please check your url and method.", with HostId the endpoint
 *   host and Recommend https://api.aliyun.com/troubleshoot?q=<Code>&product=<Product>&requestId=<id>: the Tea SDK core for
 *   Swift asserts this live answer of cs.cn-hangzhou.aliyuncs.com (testTeaCoreDoAction); ECS's "Troubleshoot API error
 *   codes" page shows the same body shape for ECS.
 * - InvalidAccessKeyId.NotFound 404 "Specified access key is not found.": a real answer quoted in
 *   XWJR-Ops/zabbix-RDS-monitor#9, and Alibaba Cloud's client-error tables (ECS's faascmd FAQ, PolarDB's "Client error codes").
 * - IncompleteSignature 400: what ECS answers a wrong secret with (fog/fog-aliyun#32, aliyun/aliyun-openapi-python-sdk#390,
 *   both real ECS answers with "…server string to sign is:…"). SignatureDoesNotMatch ("Specified signature is not matched
 *   with our calculation.") is what STS and the ROA gateways answer; the SDKs treat both alike
 *   (aliyun/alibaba-cloud-sdk-go#216). No public ACS3 transcript was found; ECS is taken to keep its code for V3.
 * - InvalidSecurityToken.MismatchWithAccessKey / .Expired 400 and InternalError 500: the same client-error tables.
 * - MissingSecurityToken 400: a code the SDKs' retry lists know (e.g. Terway's); its message follows the gateway's
 *   "<Param> is mandatory for this action." pattern (as in `Missingregion: region is mandatory for this action.`,
 *   aliyun/aliyun-cli#417), not a recorded answer.
 * - Forbidden.RAM 403 with AccessDeniedDetail: ECS's announcement of its query-API authentication change shows the
 *   body ("User not authorized to operate on the specified resource, or this API doesn't support RAM.",
 *   AccessDeniedDetail.AuthAction "ecs:DescribeInstances"); the fields are those RAM's DecodeDiagnosticMessage describes.
 * - Throttling.User 400 "Request was denied due to user flow control.": the POP client-error tables give Throttling
 *   HTTP 400; one CLI transcript of another product (BSS) shows 429. The SDK classifies by Code (ThrottlingError) either way.
 * - ServiceUnavailable 503 "The request has failed due to a temporary failure of the server.": ECS error-code tables.
 * - MissingRegionId 400 "RegionId is mandatory for this action." and MissingParameter "A/B at least one is mandatory for
 *   this action.": the gateway's Missing<Param> pattern above and ECS's documented MissingParameter message
 *   ("InstanceName/NewPassword at least one is mandatory for this action.").
 * - InvalidParameter 400 'The specified parameter "X" is not valid.': ECS's documented InvalidParameter message.
 * - InvalidSecurityGroupId.NotFound 404 "The specified SecurityGroupId does not exist.": the error table of ECS's
 *   DescribeSecurityGroupAttribute reference. MissingSecurityGroupId follows the gateway's Missing<Param> pattern above.
 */
const ERRORS = {
  actionNotFound: () => new ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.'),
  accessKeyNotFound: () => new ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.'),
  signature: (stringToSign?: string) =>
    new ApiError(400, 'IncompleteSignature', `The request signature does not conform to Aliyun standards.${stringToSign === undefined ? '' : ` server string to sign is:${stringToSign}`}`),
  tokenMissing: () => new ApiError(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.'),
  tokenMismatch: () => new ApiError(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'Specified SecurityToken mismatch with the AccessKey.'),
  tokenExpired: () => new ApiError(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.'),
  forbidden: (authAction: string, key: AccessKey) =>
    new ApiError(403, 'Forbidden.RAM', "User not authorized to operate on the specified resource, or this API doesn't support RAM.", {
      AccessDeniedDetail: {
        AuthAction: authAction,
        AuthPrincipalType: key.principal.type,
        AuthPrincipalDisplayName: key.principal.displayName,
        NoPermissionType: 'ImplicitDeny',
        PolicyType: 'AccountLevelIdentityBasedPolicy',
        EncodedDiagnosticMessage: Buffer.from(`${authAction} denied for ${key.principal.displayName}`).toString('base64'),
      },
    }),
  throttled: () => new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.'),
  internal: () => new ApiError(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.'),
  unavailable: () => new ApiError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'),
  missingRegion: () => new ApiError(400, 'MissingRegionId', 'RegionId is mandatory for this action.'),
  missingOneOf: (names: string[]) => new ApiError(400, 'MissingParameter', `${names.join('/')} at least one is mandatory for this action.`),
  invalidParameter: (name: string) => new ApiError(400, 'InvalidParameter', `The specified parameter "${name}" is not valid.`),
  missing: (name: string) => new ApiError(400, `Missing${name}`, `${name} is mandatory for this action.`),
  securityGroupNotFound: () => new ApiError(404, 'InvalidSecurityGroupId.NotFound', 'The specified SecurityGroupId does not exist.'),
};

// ---------------------------------------------------------------------------------------------------
// ACS3-HMAC-SHA256, as @alicloud/openapi-core's getAuthorization computes it (dist/utils.js).

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** RFC 3986: encodeURIComponent plus !'()*, the SDK's `encode`. */
const percentEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const decodeComponent = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));

/** key=value pairs of a query string or form body, decoded, in order. */
function parsePairs(raw: string): [string, string][] {
  return raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? [decodeComponent(pair), ''] : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
    });
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/**
 * The canonical request: method, path, the query sorted by name with RFC 3986-encoded names and values,
 * the signed headers as `name:value\n`, the signed-header list, and the payload's SHA-256. (The SDK
 * encodes only values; every API parameter name is unreserved characters, where the two agree.)
 */
function canonicalRequest(method: string, rawPath: string, query: [string, string][], req: IncomingMessage, signedHeaders: string[], payloadHash: string): string {
  const uri = rawPath.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
  const canonicalQuery = [...query]
    .sort(([ka, va], [kb, vb]) => byCodeUnits(ka, kb) || byCodeUnits(va, vb))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
  const headers = signedHeaders.map((name) => `${name}:${(header(req, name) ?? '').trim()}\n`).join('');
  return [method, uri, canonicalQuery, headers, signedHeaders.join(';'), payloadHash].join('\n');
}

interface Authorization {
  algorithm: string;
  credential: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string | undefined): Authorization | undefined {
  const m = /^(\S+) Credential=([^,]*),SignedHeaders=([^,]*),Signature=([0-9a-fA-F]*)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  return { algorithm: m[1]!, credential: m[2]!, signedHeaders: m[3]!.split(';').filter(Boolean), signature: m[4]!.toLowerCase() };
}

/** Who signed the request; throws the gateway's error when the key, token or signature is wrong. */
function authenticate(world: World, req: IncomingMessage, rawPath: string, query: [string, string][], body: Buffer, record: OpenApiRecord): AccessKey {
  const auth = parseAuthorization(header(req, 'authorization'));
  if (!auth) throw ERRORS.signature();
  record.accessKeyId = auth.credential;
  const key = world.accessKeys.find((k) => k.accessKeyId === auth.credential);
  if (!key) throw ERRORS.accessKeyNotFound();

  // an STS key only works with the token it was issued with (the token names the key)
  if (key.securityToken !== undefined) {
    const token = header(req, 'x-acs-security-token');
    record.securityToken = token;
    if (!token) throw ERRORS.tokenMissing();
    if (token !== key.securityToken) throw ERRORS.tokenMismatch();
    if (key.expiration && Date.parse(key.expiration) <= Date.now()) throw ERRORS.tokenExpired();
  }

  // the canonical request hashes the body as received, and x-acs-content-sha256 must declare that hash
  const payloadHash = sha256Hex(body);
  const canonical = canonicalRequest(req.method ?? 'GET', rawPath, query, req, auth.signedHeaders, payloadHash);
  const stringToSign = `${SIGNATURE_ALGORITHM}\n${sha256Hex(canonical)}`;
  const expected = createHmac('sha256', key.accessKeySecret).update(stringToSign).digest();
  const given = Buffer.from(auth.signature, 'hex');
  // host and every x-acs-* header must be signed (the V3 rule: all common headers but Authorization)
  const unsigned = Object.keys(req.headers).filter((h) => (h === 'host' || h.startsWith('x-acs-')) && !auth.signedHeaders.includes(h));
  record.signatureOk =
    auth.algorithm === SIGNATURE_ALGORITHM &&
    unsigned.length === 0 &&
    header(req, 'x-acs-content-sha256') === payloadHash &&
    given.length === expected.length &&
    timingSafeEqual(given, expected);
  if (!record.signatureOk) throw ERRORS.signature(stringToSign);
  return key;
}

// ---------------------------------------------------------------------------------------------------
// Parameters

type Params = Record<string, string>;

/** A RepeatList parameter: Name.1, Name.2, … in order of N. */
function repeatList(p: Params, name: string): string[] {
  const prefix = `${name}.`;
  const n = (k: string) => Number(k.slice(prefix.length));
  return Object.keys(p)
    .filter((k) => k.startsWith(prefix) && /^\d+$/.test(k.slice(prefix.length)))
    .sort((a, b) => n(a) - n(b))
    .map((k) => p[k]!);
}

/** A JSON-array string parameter (InstanceIds='["i-1","i-2"]'); undefined when absent. */
function jsonList(p: Params, name: string): string[] | undefined {
  const raw = p[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw ERRORS.invalidParameter(name);
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw ERRORS.invalidParameter(name);
  return parsed;
}

function intParam(p: Params, name: string, fallback: number, max: number): number {
  const raw = p[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw ERRORS.invalidParameter(name);
  return n;
}

/** RegionId is required; another region's answer holds nothing of this world. */
function requireRegion(world: World, p: Params): boolean {
  if (!p.RegionId) throw ERRORS.missingRegion();
  return p.RegionId === world.regionId;
}

/** PageNumber/PageSize paging (pages from 1). */
function paged<T>(items: T[], p: Params, defaultSize: number, maxSize: number) {
  const pageNumber = intParam(p, 'PageNumber', 1, Number.MAX_SAFE_INTEGER);
  const pageSize = intParam(p, 'PageSize', defaultSize, maxSize);
  return { rows: items.slice((pageNumber - 1) * pageSize, pageNumber * pageSize), PageNumber: pageNumber, PageSize: pageSize, TotalCount: items.length };
}

/**
 * NextToken/MaxResults paging: the token is an opaque offset; '' when nothing follows. Without a default
 * size, all. `sizeParam` for the APIs that spell it otherwise (DescribeRouteEntryList: MaxResult).
 */
function tokenPaged<T>(items: T[], p: Params, defaultSize = Math.max(items.length, 1), maxSize = Number.MAX_SAFE_INTEGER, sizeParam = 'MaxResults') {
  const start = p.NextToken ? Number.parseInt(Buffer.from(p.NextToken, 'hex').toString(), 10) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw ERRORS.invalidParameter('NextToken');
  const size = intParam(p, sizeParam, defaultSize, maxSize);
  const end = start + size;
  return { rows: items.slice(start, end), NextToken: end < items.length ? Buffer.from(String(end)).toString('hex') : '' };
}

const matches = (filter: string | undefined, value: string | undefined): boolean => !filter || filter === value;

// ---------------------------------------------------------------------------------------------------
// The actions

const vSwitchOf = (world: World, id: string): VSwitch | undefined => world.vSwitches.find((v) => v.vSwitchId === id);

const typeOf = (world: World, i: Instance): InstanceTypeSpec | undefined => world.instanceTypes.find((t) => t.instanceTypeId === i.instanceType);
/** ecs.g7 for ecs.g7.xlarge. */
const familyOf = (world: World, i: Instance): string => typeOf(world, i)?.instanceTypeFamily ?? i.instanceType.split('.').slice(0, 2).join('.');

function instanceJson(world: World, i: Instance) {
  const type = typeOf(world, i);
  const primaryIp = i.networkInterfaces[0]?.privateIpAddresses[0];
  return {
    InstanceId: i.instanceId,
    InstanceName: i.instanceName,
    HostName: i.hostName,
    RegionId: world.regionId,
    ZoneId: i.zoneId,
    InstanceType: i.instanceType,
    InstanceTypeFamily: familyOf(world, i),
    ...(type ? { Cpu: type.cpuCoreCount, Memory: type.memorySize * 1024 } : {}),
    Status: i.status,
    InstanceNetworkType: 'vpc',
    InstanceChargeType: 'PostPaid',
    InternetChargeType: 'PayByTraffic',
    IoOptimized: true,
    OSType: 'linux',
    CreationTime: i.creationTime,
    VpcAttributes: { VpcId: i.vpcId, VSwitchId: i.vSwitchId, PrivateIpAddress: { IpAddress: primaryIp ? [primaryIp] : [] }, NatIpAddress: '' },
    SecurityGroupIds: { SecurityGroupId: [...i.securityGroupIds] },
    // without an EIP the API still answers the structure, with empty strings
    EipAddress: i.eip
      ? { IpAddress: i.eip.ipAddress, AllocationId: i.eip.allocationId, Bandwidth: i.eip.bandwidth, InternetChargeType: 'PayByTraffic', IsSupportUnassociate: true }
      : { IpAddress: '', AllocationId: '', InternetChargeType: '' },
    PublicIpAddress: { IpAddress: [] },
    InnerIpAddress: { IpAddress: [] },
    NetworkInterfaces: {
      NetworkInterface: i.networkInterfaces.map((n) => ({
        Type: n.type,
        NetworkInterfaceId: n.networkInterfaceId,
        MacAddress: n.macAddress,
        PrimaryIpAddress: n.privateIpAddresses[0] ?? '',
        PrivateIpSets: { PrivateIpSet: n.privateIpAddresses.map((ip, k) => ({ PrivateIpAddress: ip, Primary: k === 0 })) },
      })),
    },
    Tags: { Tag: [] },
  };
}

function describeInstances(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  const ids = jsonList(p, 'InstanceIds');
  const privateIps = jsonList(p, 'PrivateIpAddresses');
  const eips = jsonList(p, 'EipAddresses');
  const found = world.instances.filter(
    (i) =>
      inRegion &&
      // an empty InstanceIds array is a filter that matches nothing
      (ids === undefined || ids.includes(i.instanceId)) &&
      (privateIps === undefined || i.networkInterfaces.some((n) => n.privateIpAddresses.some((ip) => privateIps.includes(ip)))) &&
      (eips === undefined || (i.eip !== undefined && eips.includes(i.eip.ipAddress))) &&
      matches(p.VpcId, i.vpcId) &&
      matches(p.VSwitchId, i.vSwitchId) &&
      matches(p.ZoneId, i.zoneId) &&
      matches(p.InstanceType, i.instanceType) &&
      matches(p.InstanceTypeFamily, familyOf(world, i)) &&
      matches(p.Status, i.status) &&
      (!p.SecurityGroupId || i.securityGroupIds.includes(p.SecurityGroupId)),
  );
  // documented limits: PageSize and MaxResults up to 100, 10 by default; NextToken takes precedence
  if (p.NextToken !== undefined || p.MaxResults !== undefined) {
    const { rows, NextToken } = tokenPaged(found, p, 10, 100);
    return { Instances: { Instance: rows.map((i) => instanceJson(world, i)) }, TotalCount: found.length, NextToken };
  }
  const { rows, ...page } = paged(found, p, 10, 100);
  return { Instances: { Instance: rows.map((i) => instanceJson(world, i)) }, ...page, NextToken: '' };
}

function instanceTypeJson(t: InstanceTypeSpec) {
  return {
    InstanceTypeId: t.instanceTypeId,
    InstanceTypeFamily: t.instanceTypeFamily,
    InstanceFamilyLevel: t.instanceFamilyLevel,
    CpuCoreCount: t.cpuCoreCount,
    MemorySize: t.memorySize,
    EniQuantity: t.eniQuantity,
    EniPrivateIpAddressQuantity: t.eniPrivateIpAddressQuantity,
    ...(t.eniTotalQuantity !== undefined ? { EniTotalQuantity: t.eniTotalQuantity } : {}),
    ...(t.eniIpv6AddressQuantity !== undefined ? { EniIpv6AddressQuantity: t.eniIpv6AddressQuantity } : {}),
    ...(t.eniTrunkSupported !== undefined ? { EniTrunkSupported: t.eniTrunkSupported } : {}),
  };
}

/** Instance types are global: no RegionId. InstanceTypes.N takes 1 to 10 types. */
function describeInstanceTypes(world: World, p: Params) {
  const wanted = repeatList(p, 'InstanceTypes');
  if (wanted.length > 10) throw ERRORS.invalidParameter('InstanceTypes');
  const found = world.instanceTypes.filter((t) => (wanted.length === 0 || wanted.includes(t.instanceTypeId)) && matches(p.InstanceTypeFamily, t.instanceTypeFamily));
  const { rows, NextToken } = tokenPaged(found, p);
  return { InstanceTypes: { InstanceType: rows.map(instanceTypeJson) }, NextToken };
}

function vSwitchJson(v: VSwitch) {
  return {
    VSwitchId: v.vSwitchId,
    VSwitchName: v.vSwitchName,
    VpcId: v.vpcId,
    ZoneId: v.zoneId,
    CidrBlock: v.cidrBlock,
    AvailableIpAddressCount: v.availableIpAddressCount,
    Status: v.status,
    IsDefault: false,
    Description: '',
    CreationTime: v.creationTime,
    Tags: { Tag: [] },
  };
}

/** PageSize up to 50, 10 by default (the API reference). */
function describeVSwitches(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  const found = world.vSwitches.filter(
    (v) => inRegion && matches(p.VSwitchId, v.vSwitchId) && matches(p.VpcId, v.vpcId) && matches(p.ZoneId, v.zoneId) && matches(p.VSwitchName, v.vSwitchName),
  );
  const { rows, ...page } = paged(found, p, 10, 50);
  return { VSwitches: { VSwitch: rows.map(vSwitchJson) }, ...page };
}

function natGatewayJson(world: World, g: NatGateway) {
  const usedBySnat = (ip: string) => world.snatEntries.some((e) => e.natGatewayId === g.natGatewayId && e.snatIp === ip);
  return {
    NatGatewayId: g.natGatewayId,
    Name: g.name,
    Description: '',
    VpcId: g.vpcId,
    RegionId: world.regionId,
    Status: g.status,
    BusinessStatus: 'Normal',
    NatType: g.natType,
    NetworkType: 'internet',
    InstanceChargeType: 'PostPaid',
    InternetChargeType: 'PayByLcu',
    Spec: '',
    EipBindMode: 'MULTI_BINDED',
    DeletionProtection: false,
    CreationTime: g.creationTime,
    SnatTableIds: { SnatTableId: [...g.snatTableIds] },
    ForwardTableIds: { ForwardTableId: [...g.forwardTableIds] },
    FullNatTableIds: { FullNatTableId: [] },
    IpLists: {
      IpList: g.eips.map((e) => ({
        IpAddress: e.ipAddress,
        AllocationId: e.allocationId,
        SnatEntryEnabled: usedBySnat(e.ipAddress),
        UsingStatus: usedBySnat(e.ipAddress) ? 'UsedBySnatTable' : 'Idle',
      })),
    },
    NatGatewayPrivateInfo: { VswitchId: g.vSwitchId, IzNo: vSwitchOf(world, g.vSwitchId)?.zoneId ?? '' },
    Tags: { Tag: [] },
  };
}

function describeNatGateways(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  const found = world.natGateways.filter(
    (g) => inRegion && matches(p.VpcId, g.vpcId) && matches(p.NatGatewayId, g.natGatewayId) && matches(p.NatType, g.natType) && matches(p.Status, g.status) && matches(p.Name, g.name),
  );
  const { rows, ...page } = paged(found, p, 10, 50);
  return { NatGateways: { NatGateway: rows.map((g) => natGatewayJson(world, g)) }, ...page };
}

/** A vSwitch entry answers its vSwitch's CIDR as SourceCIDR too; a CIDR entry answers SourceVSwitchId ''. */
function snatEntryJson(world: World, e: SnatEntry) {
  const vSwitchId = 'vSwitchId' in e.source ? e.source.vSwitchId : '';
  const cidr = 'cidr' in e.source ? e.source.cidr : (vSwitchOf(world, vSwitchId)?.cidrBlock ?? '');
  return {
    SnatEntryId: e.snatEntryId,
    SnatEntryName: e.snatEntryName,
    SnatTableId: e.snatTableId,
    NatGatewayId: e.natGatewayId,
    SnatIp: e.snatIp,
    SourceVSwitchId: vSwitchId,
    SourceCIDR: cidr,
    Status: e.status,
    EipAffinity: '0',
  };
}

/** The API reference: RegionId, and SnatTableId or NatGatewayId; PageSize up to 50, 10 by default. */
function describeSnatTableEntries(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  if (!p.SnatTableId && !p.NatGatewayId) throw ERRORS.missingOneOf(['SnatTableId', 'NatGatewayId']);
  const found = world.snatEntries
    .map((e) => snatEntryJson(world, e))
    .filter(
      (e) =>
        inRegion &&
        matches(p.SnatTableId, e.SnatTableId) &&
        matches(p.NatGatewayId, e.NatGatewayId) &&
        matches(p.SnatEntryId, e.SnatEntryId) &&
        matches(p.SourceVSwitchId, e.SourceVSwitchId) &&
        matches(p.SourceCIDR, e.SourceCIDR) &&
        matches(p.SnatIp, e.SnatIp) &&
        matches(p.SnatEntryName, e.SnatEntryName),
    );
  const { rows, ...page } = paged(found, p, 10, 50);
  return { SnatTableEntries: { SnatTableEntry: rows }, ...page };
}

/**
 * A rule as DescribeSecurityGroupAttribute lists it: every field present, the unused ones as empty
 * strings; Priority a string (the SDK's model types it so, as does the API reference's newer example).
 */
function permissionJson(world: World, r: SecurityGroupRule) {
  const src = r.source;
  const from = <K extends string>(key: K): string => (src && key in src ? (src as Record<K, string>)[key] : '');
  const sourceGroup = world.securityGroups.find((g) => g.securityGroupId === from('groupId'));
  return {
    SecurityGroupRuleId: r.securityGroupRuleId,
    Direction: r.direction,
    IpProtocol: r.ipProtocol,
    PortRange: r.portRange,
    SourcePortRange: '',
    SourceCidrIp: from('cidr'),
    Ipv6SourceCidrIp: from('ipv6Cidr'),
    SourceGroupId: from('groupId'),
    SourceGroupName: sourceGroup?.securityGroupName ?? '',
    SourceGroupOwnerAccount: '',
    SourcePrefixListId: from('prefixListId'),
    SourcePrefixListName: '',
    DestCidrIp: r.destCidr ?? '',
    Ipv6DestCidrIp: '',
    DestGroupId: '',
    DestGroupName: '',
    DestGroupOwnerAccount: '',
    DestPrefixListId: '',
    DestPrefixListName: '',
    PortRangeListId: '',
    PortRangeListName: '',
    Policy: r.policy,
    Priority: String(r.priority),
    NicType: 'intranet',
    Description: r.description,
    CreateTime: r.createTime,
  };
}

/** The API reference: RegionId and SecurityGroupId required; Direction all by default; MaxResults up to 1000, 500 by default. */
function describeSecurityGroupAttribute(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  if (!p.SecurityGroupId) throw ERRORS.missing('SecurityGroupId');
  const group: SecurityGroup | undefined = inRegion ? world.securityGroups.find((g) => g.securityGroupId === p.SecurityGroupId) : undefined;
  if (!group) throw ERRORS.securityGroupNotFound();
  const direction = (p.Direction || 'all').toLowerCase();
  if (!['all', 'ingress', 'egress'].includes(direction)) throw ERRORS.invalidParameter('Direction');
  const rules = group.rules.filter((r) => direction === 'all' || r.direction === direction);
  const { rows, NextToken } = tokenPaged(rules, p, 500, 1000);
  return {
    RegionId: world.regionId,
    SecurityGroupId: group.securityGroupId,
    SecurityGroupName: group.securityGroupName,
    Description: group.description,
    VpcId: group.vpcId,
    InnerAccessPolicy: group.innerAccessPolicy,
    Permissions: { Permission: rows.map((r) => permissionJson(world, r)) },
    NextToken,
  };
}

function routeTableJson(world: World, t: RouteTable) {
  return {
    VpcId: t.vpcId,
    RouterType: 'VRouter',
    RouterId: t.routerId,
    RouteTableId: t.routeTableId,
    RouteTableName: t.routeTableName,
    RouteTableType: t.routeTableType,
    AssociateType: 'VSwitch',
    Description: '',
    CreationTime: t.creationTime,
    ResourceGroupId: '',
    Status: 'Available',
    OwnerId: 0,
    RoutePropagationEnable: true,
    VSwitchIds: { VSwitchId: [...t.vSwitchIds] },
    GatewayIds: { GatewayIds: [] },
    Tags: { Tag: [] },
  };
}

/**
 * The API reference: RegionId required; VpcId (sets RouterType to VRouter), RouterId, RouteTableId,
 * RouteTableName, RouteTableType filter; PageSize up to 50, 10 by default.
 */
function describeRouteTableList(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  const found = (world.routeTables ?? []).filter(
    (t) =>
      inRegion &&
      matches(p.VpcId, t.vpcId) &&
      matches(p.RouterId, t.routerId) &&
      matches(p.RouteTableId, t.routeTableId) &&
      matches(p.RouteTableName, t.routeTableName) &&
      matches(p.RouteTableType, t.routeTableType) &&
      (!p.RouterType || p.RouterType === 'VRouter'),
  );
  const { rows, ...page } = paged(found, p, 10, 50);
  return { RouterTableList: { RouterTableListType: rows.map((t) => routeTableJson(world, t)) }, ...page };
}

function routeEntryJson(world: World, e: RouteEntry) {
  return {
    RouteEntryId: e.routeEntryId,
    RouteEntryName: e.routeEntryName,
    RouteTableId: e.routeTableId,
    DestinationCidrBlock: e.destinationCidrBlock,
    Type: e.type,
    Status: e.status,
    IpVersion: 'ipv4',
    Description: e.description,
    Origin: '',
    ServiceType: '',
    GmtModified: '2024-05-20T08:00:00Z',
    NextHops: {
      NextHop: e.nextHops.map((h) => ({
        NextHopType: h.nextHopType,
        NextHopId: h.nextHopId,
        NextHopRegionId: world.regionId,
        Enabled: 1,
        Weight: 100,
        NextHopRelatedInfo: { InstanceId: '', InstanceType: '', RegionId: '' },
      })),
    },
  };
}

/**
 * The API reference: RegionId and RouteTableId required; RouteEntryId, DestinationCidrBlock,
 * RouteEntryName, RouteEntryType, NextHopId, NextHopType filter; MaxResult 1 to 100 (10 by default)
 * with NextToken.
 */
function describeRouteEntryList(world: World, p: Params) {
  const inRegion = requireRegion(world, p);
  if (!p.RouteTableId) throw ERRORS.missing('RouteTableId');
  const found = (world.routeEntries ?? []).filter(
    (e) =>
      inRegion &&
      e.routeTableId === p.RouteTableId &&
      matches(p.RouteEntryId, e.routeEntryId) &&
      matches(p.DestinationCidrBlock, e.destinationCidrBlock) &&
      matches(p.RouteEntryName, e.routeEntryName) &&
      matches(p.RouteEntryType, e.type) &&
      (!p.NextHopId || e.nextHops.some((h) => h.nextHopId === p.NextHopId)) &&
      (!p.NextHopType || e.nextHops.some((h) => h.nextHopType === p.NextHopType)),
  );
  const { rows, NextToken } = tokenPaged(found, p, 10, 100, 'MaxResult');
  return { RouteEntrys: { RouteEntry: rows.map((e) => routeEntryJson(world, e)) }, NextToken, TotalCount: found.length };
}

type Action = (world: World, p: Params) => Record<string, unknown>;

/** By x-acs-version: the product (as Recommend and RAM name it) and its actions. */
const APIS: Record<string, { product: 'Ecs' | 'Vpc'; actions: Record<string, Action> }> = {
  '2014-05-26': {
    product: 'Ecs',
    actions: { DescribeInstances: describeInstances, DescribeInstanceTypes: describeInstanceTypes, DescribeSecurityGroupAttribute: describeSecurityGroupAttribute },
  },
  '2016-04-28': {
    product: 'Vpc',
    actions: {
      DescribeVSwitches: describeVSwitches,
      DescribeNatGateways: describeNatGateways,
      DescribeSnatTableEntries: describeSnatTableEntries,
      DescribeRouteTableList: describeRouteTableList,
      DescribeRouteEntryList: describeRouteEntryList,
    },
  },
};

// ---------------------------------------------------------------------------------------------------
// The metadata service

const ipToInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const intToIp = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

function cidrParts(cidr: string): { netmask: string; gateway: string } {
  const [base = '0.0.0.0', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(ipToInt(base) / size) * size;
  // a vSwitch's gateway is its last address but two: .253 of a /24, 172.16.15.253 of 172.16.0.0/20
  return { netmask: intToIp(2 ** 32 - size), gateway: intToIp(network + size - 3) };
}

/** The plain-text answer for a path under /latest/meta-data/, or undefined (404). */
function metadataAnswer(world: World, path: string): string | undefined {
  const instance = world.instances.find((i) => i.instanceId === world.metadata.instanceId);
  if (!instance) return undefined;
  const primary = instance.networkInterfaces[0];
  const vpcCidr = (vpcId: string) => world.vpcs.find((v) => v.vpcId === vpcId)?.cidrBlock;
  const entries: Record<string, string | undefined> = {
    'instance-id': instance.instanceId,
    'region-id': world.regionId,
    'zone-id': instance.zoneId,
    hostname: instance.hostName,
    'instance/instance-type': instance.instanceType,
    'private-ipv4': primary?.privateIpAddresses[0],
    eipv4: instance.eip?.ipAddress,
    'vpc-id': instance.vpcId,
    'vpc-cidr-block': vpcCidr(instance.vpcId),
    'vswitch-id': instance.vSwitchId,
    'vswitch-cidr-block': vSwitchOf(world, instance.vSwitchId)?.cidrBlock,
    mac: primary?.macAddress,
    'network/interfaces/macs/': instance.networkInterfaces.map((n) => `${n.macAddress}/`).join('\n'),
    'ram/security-credentials/': instance.ramRoleName,
  };
  if (path === '') return [...new Set(Object.keys(entries).filter((k) => entries[k] !== undefined).map((k) => k.replace(/\/.*/s, '/')))].sort().join('\n');
  if (path in entries) return entries[path];
  if (`${path}/` in entries) return entries[`${path}/`];

  const perMac = /^network\/interfaces\/macs\/([^/]+)\/([^/]+)$/.exec(path);
  if (perMac) {
    const eni = instance.networkInterfaces.find((n) => n.macAddress === perMac[1]);
    const cidr = eni && vSwitchOf(world, eni.vSwitchId)?.cidrBlock;
    if (!eni || !cidr) return undefined;
    const values: Record<string, string | undefined> = {
      'network-interface-id': eni.networkInterfaceId,
      'primary-ip-address': eni.privateIpAddresses[0],
      // a JSON array, as Terway parses it
      'private-ipv4s': JSON.stringify(eni.privateIpAddresses),
      'vswitch-id': eni.vSwitchId,
      'vswitch-cidr-block': cidr,
      'vpc-id': instance.vpcId,
      'vpc-cidr-block': vpcCidr(instance.vpcId),
      gateway: cidrParts(cidr).gateway,
      netmask: cidrParts(cidr).netmask,
    };
    return values[perMac[2]!];
  }

  const role = /^ram\/security-credentials\/([^/]+)$/.exec(path)?.[1];
  if (role !== undefined && role === instance.ramRoleName) {
    const key = world.accessKeys.find((k) => k.ramRole === role);
    if (!key?.securityToken) return undefined;
    return JSON.stringify(
      {
        AccessKeyId: key.accessKeyId,
        AccessKeySecret: key.accessKeySecret,
        Expiration: key.expiration,
        SecurityToken: key.securityToken,
        LastUpdated: key.lastUpdated ?? isoSeconds(new Date()),
        Code: 'Success',
      },
      null,
      2,
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// The server

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

const newRequestId = (): string => randomUUID().toUpperCase();

export async function startAlicloudStandIn(world: World, opts: StandInOptions = {}): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, { fault: Fault; remaining?: number }>();
  const metadataTokens = new Map<string, number>(); // token → expiry (ms since epoch)
  const delays = new Set<NodeJS.Timeout>();
  let current = world;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        delays.delete(t);
        resolve();
      }, ms);
      delays.add(t);
    });

  /** The fault for this action (or '*'), counting down a limited one. */
  function takeFault(action: string): Fault | undefined {
    const name = faults.has(action) ? action : faults.has('*') ? '*' : undefined;
    const entry = name === undefined ? undefined : faults.get(name);
    if (!entry) return undefined;
    if (entry.remaining !== undefined && --entry.remaining <= 0) faults.delete(name!);
    return entry.fault;
  }

  function send(res: ServerResponse, status: number, body: string, contentType: string, extraHeaders: Record<string, string> = {}) {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': contentType, ...extraHeaders });
    res.end(body);
  }

  async function openApi(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQuery: string, body: Buffer) {
    const query = parsePairs(rawQuery);
    const form = /application\/x-www-form-urlencoded/.test(header(req, 'content-type') ?? '') ? parsePairs(body.toString('utf8')) : [];
    const params: Params = Object.fromEntries([...query, ...form]);
    const version = header(req, 'x-acs-version') ?? '';
    const action = header(req, 'x-acs-action') ?? '';
    const record: OpenApiRecord = { kind: 'openapi', method: req.method ?? 'GET', path: rawPath, action, version, params, signatureOk: false };
    requests.push(record);
    const requestId = newRequestId();
    const api = APIS[version];

    const answer = (status: number, payload: Record<string, unknown>) => {
      record.status = status;
      send(res, status, JSON.stringify(payload), 'application/json;charset=utf-8', { 'x-acs-request-id': requestId });
    };

    try {
      // the gateway finds the API (product, version, action) before it looks at who is calling
      const run = api?.actions[action];
      if (!api || !run) throw ERRORS.actionNotFound();
      const key = authenticate(current, req, rawPath, query, body, record);

      const fault = takeFault(action);
      if (fault === 'timeout') return; // never answered: the stand-in's close() drops the connection
      if (fault === 'throttle') throw ERRORS.throttled();
      if (fault === 'internal') throw ERRORS.internal();
      if (fault === 'unavailable') throw ERRORS.unavailable();
      if (typeof fault === 'object') await sleep(fault.delayMs);

      if (key.deny?.includes(action)) throw ERRORS.forbidden(`${api.product.toLowerCase()}:${action}`, key);
      answer(200, { ...run(current, params), RequestId: requestId });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      record.code = e.code;
      const recommend = `https://api.aliyun.com/troubleshoot?q=${e.code}${api ? `&product=${api.product}` : ''}&requestId=${requestId}`;
      answer(e.status, { RequestId: requestId, HostId: header(req, 'host') ?? '', Code: e.code, Message: e.message, Recommend: recommend, ...e.detail });
    }
  }

  function metadata(req: IncomingMessage, res: ServerResponse, path: string) {
    const token = header(req, 'x-aliyun-ecs-metadata-token');
    const record: MetadataRecord = { kind: 'metadata', method: req.method ?? 'GET', path, withToken: token !== undefined };
    requests.push(record);
    const answer = (status: number, text = '') => {
      record.status = status;
      send(res, status, text, 'text/plain');
    };

    if (path === '/latest/api/token' && req.method === 'PUT') {
      const ttl = Number(header(req, 'x-aliyun-ecs-metadata-token-ttl-seconds'));
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_METADATA_TOKEN_TTL_S) return answer(400);
      const issued = randomBytes(32).toString('base64url');
      metadataTokens.set(issued, Date.now() + ttl * 1000);
      return answer(200, issued);
    }
    if (req.method !== 'GET' || !path.startsWith('/latest/meta-data/')) return answer(404);
    // a token, when given, must be valid; hardened mode requires one
    const tokenValid = token !== undefined && (metadataTokens.get(token) ?? 0) > Date.now();
    if ((token !== undefined && !tokenValid) || (token === undefined && current.metadata.requireToken)) return answer(401);
    const value = metadataAnswer(current, path.slice('/latest/meta-data/'.length));
    return value === undefined ? answer(404) : answer(200, value);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const rawPath = q < 0 ? raw : raw.slice(0, q);
      if (rawPath.startsWith('/latest/')) return metadata(req, res, decodeURIComponent(rawPath));
      return openApi(req, res, rawPath, q < 0 ? '' : raw.slice(q + 1), body);
    })().catch((e: unknown) => {
      send(res, 500, String(e), 'text/plain');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `127.0.0.1:${port}`;

  return {
    endpoint,
    url: `http://${endpoint}`,
    metadataUrl: `http://${endpoint}/latest/meta-data/`,
    requests,
    get world() {
      return current;
    },
    set world(w: World) {
      current = w;
    },
    fault(action, fault, faultOpts = {}) {
      if (fault === undefined) faults.delete(action);
      else faults.set(action, { fault, ...(faultOpts.times !== undefined ? { remaining: faultOpts.times } : {}) });
    },
    close() {
      for (const t of delays) clearTimeout(t);
      delays.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
