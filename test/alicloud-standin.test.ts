/**
 * The Alibaba Cloud stand-in against the real SDK clients (@alicloud/ecs20140526, @alicloud/vpc20160428,
 * @alicloud/credentials): only the endpoint and protocol differ from production. Data comes back through
 * the SDK's camelCase models; refusals come back as the SDK's own errors with the services' codes.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAlicloudStandIn, type MetadataRecord, type OpenApiRecord, type StandIn } from './fakes/alicloud/server.js';
import { defaultWorld, IDS, KEYS } from './fakes/alicloud/world.js';

// The SDK packages are CommonJS. require() gives module.exports the same way under Node and under
// vitest (whose default-import interop differs from Node's): the client at .default, the models beside it.
const require = createRequire(import.meta.url);
const ecsSdk = require('@alicloud/ecs20140526') as typeof import('@alicloud/ecs20140526');
const vpcSdk = require('@alicloud/vpc20160428') as typeof import('@alicloud/vpc20160428');
const credentialsSdk = require('@alicloud/credentials') as typeof import('@alicloud/credentials');
const openApi = require('@alicloud/openapi-core') as typeof import('@alicloud/openapi-core');
const { Config, default: OpenApiUtil } = openApi.$OpenApiUtil;

// a fresh stand-in per test: its own world, request log, faults and metadata tokens
let standIn: StandIn;
beforeEach(async () => void (standIn = await startAlicloudStandIn(defaultWorld())));
afterEach(() => standIn.close());

interface ClientOptions {
  key?: { id: string; secret: string; token?: string };
  readTimeout?: number;
}

function config({ key = KEYS.full, readTimeout = 2000 }: ClientOptions = {}) {
  return new Config({
    accessKeyId: key.id,
    accessKeySecret: key.secret,
    ...(key.token ? { securityToken: key.token } : {}),
    endpoint: standIn.endpoint,
    protocol: 'http',
    regionId: 'cn-hangzhou',
    connectTimeout: 1000,
    readTimeout,
  });
}
const ecs = (o?: ClientOptions) => new ecsSdk.default(config(o));
const vpc = (o?: ClientOptions) => new vpcSdk.default(config(o));

const openApiCalls = () => standIn.requests.filter((r): r is OpenApiRecord => r.kind === 'openapi');
const metadataCalls = () => standIn.requests.filter((r): r is MetadataRecord => r.kind === 'metadata');

/** The body of a call that must succeed (the SDK types it optional). */
async function ok<B>(call: Promise<{ statusCode?: number; body?: B }>): Promise<B> {
  const { statusCode, body } = await call;
  expect(statusCode).toBe(200);
  return body!;
}

/** The SDK's error for a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<{ name: string; code: string; statusCode?: number; message: string; data?: Record<string, unknown>; accessDeniedDetail?: Record<string, unknown> }> {
  try {
    await call;
  } catch (e) {
    return e as never;
  }
  throw new Error('the call succeeded');
}

describe('ECS DescribeInstances', () => {
  it("returns the world's instances through the SDK models, from the params the SDK sent", async () => {
    const req = new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([IDS.master, IDS.worker]) });
    const body = await ok(ecs().describeInstances(req));
    expect(body.totalCount).toBe(2);
    expect(body.requestId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    const [master, worker] = body.instances!.instance!;
    expect(master).toMatchObject({
      instanceId: IDS.master,
      instanceType: 'ecs.g7.xlarge',
      zoneId: 'cn-hangzhou-h',
      regionId: 'cn-hangzhou',
      hostName: 'knit-master-1',
      vpcAttributes: { vpcId: IDS.vpc, vSwitchId: IDS.nodeVSwitchH, privateIpAddress: { ipAddress: ['192.168.0.10'] } },
      securityGroupIds: { securityGroupId: [IDS.nodesSecurityGroup, IDS.overlaySecurityGroup] },
      eipAddress: { ipAddress: '203.0.113.20', allocationId: 'eip-bp1knitmaster00000001' },
    });
    expect(worker!.eipAddress!.ipAddress).toBe('');
    expect(worker!.networkInterfaces!.networkInterface!.map((n) => [n.type, n.primaryIpAddress, n.privateIpSets!.privateIpSet!.length])).toEqual([
      ['Primary', '192.168.1.20', 1],
      ['Secondary', '192.168.64.5', 3],
    ]);

    const [call] = openApiCalls();
    expect(call).toMatchObject({ method: 'POST', path: '/', action: 'DescribeInstances', version: '2014-05-26', accessKeyId: KEYS.full.id, signatureOk: true, status: 200 });
    expect(call!.params).toEqual({ RegionId: 'cn-hangzhou', InstanceIds: `["${IDS.master}","${IDS.worker}"]` });
  });

  it('pages with PageNumber/PageSize, and an empty InstanceIds array matches nothing', async () => {
    const page2 = await ok(ecs().describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou', pageSize: 1, pageNumber: 2 })));
    expect([page2.totalCount, page2.pageNumber, page2.pageSize]).toEqual([2, 2, 1]);
    expect(page2.instances!.instance!.map((i) => i.instanceId)).toEqual([IDS.worker]);
    const none = await ok(ecs().describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: '[]' })));
    expect(none.totalCount).toBe(0);
  });

  it('requires RegionId (MissingRegionId) and a JSON array in InstanceIds (InvalidParameter)', async () => {
    const noRegion = await refusal(ecs().describeInstances(new ecsSdk.DescribeInstancesRequest({})));
    expect([noRegion.name, noRegion.statusCode, noRegion.code, noRegion.data?.Message]).toEqual(['ClientError', 400, 'MissingRegionId', 'RegionId is mandatory for this action.']);
    const badIds = await refusal(ecs().describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: IDS.master })));
    expect([badIds.code, badIds.data?.Message]).toEqual(['InvalidParameter', 'The specified parameter "InstanceIds" is not valid.']);
  });
});

describe('ECS DescribeInstanceTypes', () => {
  it('sends InstanceTypes.N and returns the real ENI limits, omitting what no source gives', async () => {
    const req = new ecsSdk.DescribeInstanceTypesRequest({ instanceTypes: ['ecs.g7.xlarge', 'ecs.t5-lc1m1.small', 'ecs.no-such.large'] });
    const body = await ok(ecs().describeInstanceTypes(req));
    expect(openApiCalls()[0]!.params).toEqual({ 'InstanceTypes.1': 'ecs.g7.xlarge', 'InstanceTypes.2': 'ecs.t5-lc1m1.small', 'InstanceTypes.3': 'ecs.no-such.large' });
    const types = body.instanceTypes!.instanceType!;
    expect(types.map((t) => [t.instanceTypeId, t.eniQuantity, t.eniPrivateIpAddressQuantity, t.eniTotalQuantity, t.cpuCoreCount, t.memorySize])).toEqual([
      ['ecs.g7.xlarge', 4, 15, 20, 4, 16],
      ['ecs.t5-lc1m1.small', 2, 2, undefined, 1, 1],
    ]);
    expect(types[0]!.instanceTypeFamily).toBe('ecs.g7');
  });

  it('filters by family and pages with MaxResults/NextToken', async () => {
    const first = await ok(ecs().describeInstanceTypes(new ecsSdk.DescribeInstanceTypesRequest({ instanceTypeFamily: 'ecs.g7', maxResults: 1 })));
    expect(first.instanceTypes!.instanceType!.map((t) => t.instanceTypeId)).toEqual(['ecs.g7.large']);
    expect(first.nextToken).not.toBe('');
    const rest = await ok(ecs().describeInstanceTypes(new ecsSdk.DescribeInstanceTypesRequest({ instanceTypeFamily: 'ecs.g7', maxResults: 1, nextToken: first.nextToken })));
    expect(rest.instanceTypes!.instanceType!.map((t) => t.instanceTypeId)).toEqual(['ecs.g7.xlarge']);
    expect(rest.nextToken).toBe('');
  });
});

describe('ECS DescribeSecurityGroupAttribute', () => {
  it("answers a group's rules in the real shape: every field, unused ones empty, Priority a string, Policy capitalized", async () => {
    const req = new ecsSdk.DescribeSecurityGroupAttributeRequest({ regionId: 'cn-hangzhou', securityGroupId: IDS.nodesSecurityGroup });
    const body = await ok(ecs().describeSecurityGroupAttribute(req));
    expect(body).toMatchObject({ securityGroupId: IDS.nodesSecurityGroup, securityGroupName: 'knit-nodes', vpcId: IDS.vpc, innerAccessPolicy: 'Accept', regionId: 'cn-hangzhou', nextToken: '' });
    const rules = body.permissions!.permission!;
    // Direction defaults to all: the egress rule too
    expect(rules.map((r) => [r.securityGroupRuleId, r.direction, r.ipProtocol, r.portRange, r.sourceCidrIp, r.destCidrIp, r.policy, r.priority])).toEqual([
      [IDS.sshRule, 'ingress', 'TCP', '22/22', '0.0.0.0/0', '', 'Accept', '1'],
      [IDS.vxlanWorldRule, 'ingress', 'UDP', '8472/8472', '0.0.0.0/0', '', 'Accept', '1'],
      [IDS.egressRule, 'egress', 'ALL', '-1/-1', '', '0.0.0.0/0', 'Accept', '1'],
    ]);
    expect(rules[1]).toMatchObject({ nicType: 'intranet', sourceGroupId: '', sourcePrefixListId: '', ipv6SourceCidrIp: '', portRangeListId: '', description: 'flannel vxlan' });
    const overlay = await ok(ecs().describeSecurityGroupAttribute(new ecsSdk.DescribeSecurityGroupAttributeRequest({ regionId: 'cn-hangzhou', securityGroupId: IDS.overlaySecurityGroup })));
    expect(overlay.permissions!.permission!.map((r) => [r.securityGroupRuleId, r.sourceCidrIp])).toEqual([[IDS.vxlanPeerRule, '198.51.100.20/32']]);
  });

  it('filters by Direction and pages with MaxResults/NextToken', async () => {
    const ask = (more: object) => ok(ecs().describeSecurityGroupAttribute(new ecsSdk.DescribeSecurityGroupAttributeRequest({ regionId: 'cn-hangzhou', securityGroupId: IDS.nodesSecurityGroup, ...more })));
    const first = await ask({ direction: 'ingress', maxResults: 1 });
    expect(first.permissions!.permission!.map((r) => r.securityGroupRuleId)).toEqual([IDS.sshRule]);
    const rest = await ask({ direction: 'ingress', maxResults: 1, nextToken: first.nextToken });
    expect(rest.permissions!.permission!.map((r) => r.securityGroupRuleId)).toEqual([IDS.vxlanWorldRule]);
    expect(rest.nextToken).toBe('');
    expect(openApiCalls()[0]!.params).toEqual({ RegionId: 'cn-hangzhou', SecurityGroupId: IDS.nodesSecurityGroup, Direction: 'ingress', MaxResults: '1' });
  });

  it('a group it does not have, or in another region: InvalidSecurityGroupId.NotFound (404); no SecurityGroupId: MissingSecurityGroupId', async () => {
    for (const [regionId, securityGroupId] of [['cn-hangzhou', 'sg-bp1doesnotexist0000001'], ['cn-shanghai', IDS.nodesSecurityGroup]]) {
      const e = await refusal(ecs().describeSecurityGroupAttribute(new ecsSdk.DescribeSecurityGroupAttributeRequest({ regionId, securityGroupId })));
      expect([e.statusCode, e.code, e.data?.Message]).toEqual([404, 'InvalidSecurityGroupId.NotFound', 'The specified SecurityGroupId does not exist.']);
    }
    const missing = await refusal(ecs().describeSecurityGroupAttribute(new ecsSdk.DescribeSecurityGroupAttributeRequest({ regionId: 'cn-hangzhou' })));
    expect([missing.statusCode, missing.code]).toEqual([400, 'MissingSecurityGroupId']);
  });
});

describe('VPC', () => {
  it('DescribeVSwitches: one by id, and all of a VPC page by page', async () => {
    const one = await ok(vpc().describeVSwitches(new vpcSdk.DescribeVSwitchesRequest({ regionId: 'cn-hangzhou', vSwitchId: IDS.podVSwitchI })));
    expect(one.vSwitches!.vSwitch).toEqual([
      expect.objectContaining({ vSwitchId: IDS.podVSwitchI, vpcId: IDS.vpc, zoneId: 'cn-hangzhou-i', cidrBlock: '192.168.64.0/19', availableIpAddressCount: 8172, status: 'Available', vSwitchName: 'knit-pods-i' }),
    ]);
    expect(openApiCalls()[0]).toMatchObject({ action: 'DescribeVSwitches', version: '2016-04-28', params: { RegionId: 'cn-hangzhou', VSwitchId: IDS.podVSwitchI } });
    const page = await ok(vpc().describeVSwitches(new vpcSdk.DescribeVSwitchesRequest({ regionId: 'cn-hangzhou', vpcId: IDS.vpc, pageSize: 2, pageNumber: 3 })));
    expect([page.totalCount, page.vSwitches!.vSwitch!.map((v) => v.vSwitchId)]).toEqual([5, [IDS.podVSwitchUncovered]]);
  });

  it('DescribeNatGateways: the SNAT table and the EIP it uses', async () => {
    const body = await ok(vpc().describeNatGateways(new vpcSdk.DescribeNatGatewaysRequest({ regionId: 'cn-hangzhou', vpcId: IDS.vpc })));
    const [gw] = body.natGateways!.natGateway!;
    expect(gw).toMatchObject({ natGatewayId: IDS.natGateway, vpcId: IDS.vpc, status: 'Available', natType: 'Enhanced', snatTableIds: { snatTableId: [IDS.snatTable] } });
    expect(gw!.ipLists!.ipList).toEqual([expect.objectContaining({ ipAddress: '203.0.113.10', snatEntryEnabled: true, usingStatus: 'UsedBySnatTable' })]);
    expect(gw!.natGatewayPrivateInfo).toMatchObject({ vswitchId: IDS.nodeVSwitchH, izNo: 'cn-hangzhou-h' });
  });

  it('DescribeSnatTableEntries: entries by vSwitch carry its CIDR, entries by CIDR an empty SourceVSwitchId', async () => {
    const body = await ok(vpc().describeSnatTableEntries(new vpcSdk.DescribeSnatTableEntriesRequest({ regionId: 'cn-hangzhou', snatTableId: IDS.snatTable, pageSize: 50 })));
    expect(body.totalCount).toBe(4);
    const rows = body.snatTableEntries!.snatTableEntry!.map((e) => [e.sourceVSwitchId, e.sourceCIDR, e.snatIp, e.status]);
    expect(rows).toContainEqual([IDS.podVSwitchH, '192.168.32.0/19', '203.0.113.10', 'Available']);
    expect(rows).toContainEqual(['', '192.168.64.0/18', '203.0.113.10', 'Available']);
    expect(rows.map((r) => r[0])).not.toContain(IDS.podVSwitchUncovered);
    const byVSwitch = await ok(vpc().describeSnatTableEntries(new vpcSdk.DescribeSnatTableEntriesRequest({ regionId: 'cn-hangzhou', natGatewayId: IDS.natGateway, sourceVSwitchId: IDS.nodeVSwitchI })));
    expect(byVSwitch.snatTableEntries!.snatTableEntry!.map((e) => e.snatEntryId)).toEqual(['snat-bp1knitnodei00000001']);
  });

  it('DescribeSnatTableEntries needs SnatTableId or NatGatewayId (MissingParameter)', async () => {
    const e = await refusal(vpc().describeSnatTableEntries(new vpcSdk.DescribeSnatTableEntriesRequest({ regionId: 'cn-hangzhou' })));
    expect([e.statusCode, e.code, e.data?.Message]).toEqual([400, 'MissingParameter', 'SnatTableId/NatGatewayId at least one is mandatory for this action.']);
  });

  it('reads the world as it is at each call', async () => {
    standIn.world.vSwitches.find((v) => v.vSwitchId === IDS.podVSwitchH)!.availableIpAddressCount = 3;
    const body = await ok(vpc().describeVSwitches(new vpcSdk.DescribeVSwitchesRequest({ regionId: 'cn-hangzhou', vSwitchId: IDS.podVSwitchH })));
    expect(body.vSwitches!.vSwitch![0]!.availableIpAddressCount).toBe(3);
  });
});

describe('authentication and authorization', () => {
  const listInstances = (client: InstanceType<typeof ecsSdk.default>) => client.describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou' }));

  it('refuses a wrong secret with IncompleteSignature and the string to sign', async () => {
    const e = await refusal(listInstances(ecs({ key: { id: KEYS.full.id, secret: 'not-the-secret' } })));
    expect([e.name, e.statusCode, e.code]).toEqual(['ClientError', 400, 'IncompleteSignature']);
    expect(e.data?.Message).toMatch(/^The request signature does not conform to Aliyun standards\. server string to sign is:ACS3-HMAC-SHA256\n[0-9a-f]{64}$/);
    expect(e.data).toMatchObject({ HostId: standIn.endpoint, Recommend: expect.stringMatching(/^https:\/\/api\.aliyun\.com\/troubleshoot\?q=IncompleteSignature&product=Ecs&requestId=/) });
    expect(openApiCalls()[0]).toMatchObject({ accessKeyId: KEYS.full.id, signatureOk: false, status: 400, code: 'IncompleteSignature' });
  });

  it('refuses an unknown key with InvalidAccessKeyId.NotFound', async () => {
    const e = await refusal(listInstances(ecs({ key: { id: 'LTAI5tNoSuchKeyAnywhere', secret: KEYS.full.secret } })));
    expect([e.statusCode, e.code, e.data?.Message]).toEqual([404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.']);
  });

  it('refuses an action the key is denied with Forbidden.RAM naming the action, and allows the others', async () => {
    const denied = await refusal(ecs({ key: KEYS.limited }).describeInstanceTypes(new ecsSdk.DescribeInstanceTypesRequest({ instanceTypes: ['ecs.g7.large'] })));
    expect([denied.name, denied.statusCode, denied.code]).toEqual(['ClientError', 403, 'Forbidden.RAM']);
    expect(denied.accessDeniedDetail).toMatchObject({ AuthAction: 'ecs:DescribeInstanceTypes', NoPermissionType: 'ImplicitDeny', AuthPrincipalType: 'SubUser' });
    const vpcDenied = await refusal(vpc({ key: KEYS.limited }).describeSnatTableEntries(new vpcSdk.DescribeSnatTableEntriesRequest({ regionId: 'cn-hangzhou', snatTableId: IDS.snatTable })));
    expect(vpcDenied.accessDeniedDetail?.AuthAction).toBe('vpc:DescribeSnatTableEntries');
    expect((await ok(listInstances(ecs({ key: KEYS.limited })))).totalCount).toBe(2);
  });

  it('refuses a body that does not match x-acs-content-sha256, signed by the SDK\'s own signer', async () => {
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    /** Headers for POST /?RegionId=cn-hangzhou declaring `declared` as the body and signing `signed` as the payload. */
    const signedHeaders = (declared: string, signed = declared) => {
      const headers: Record<string, string> = {
        host: standIn.endpoint,
        'x-acs-action': 'DescribeInstances',
        'x-acs-version': '2014-05-26',
        'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        'x-acs-signature-nonce': sha256(String(Math.random())).slice(0, 32),
        'x-acs-content-sha256': sha256(declared),
      };
      const request = { method: 'POST', pathname: '/', query: { RegionId: 'cn-hangzhou' }, headers };
      headers.authorization = OpenApiUtil.getAuthorization(request as never, 'ACS3-HMAC-SHA256', sha256(signed), KEYS.full.id, KEYS.full.secret);
      return headers;
    };
    const post = async (headers: Record<string, string>, body: string) => {
      const r = await fetch(`${standIn.url}/?RegionId=cn-hangzhou`, { method: 'POST', headers, body });
      return [r.status, ((await r.json()) as { Code?: string }).Code];
    };
    const body = 'RegionId=cn-beijing';
    expect(await post(signedHeaders(''), '')).toEqual([200, undefined]);
    expect(await post(signedHeaders(body), body)).toEqual([200, undefined]);
    // the body changed after signing
    expect(await post(signedHeaders(''), body)).toEqual([400, 'IncompleteSignature']);
    // signed over the body as sent, but declaring another one
    expect(await post(signedHeaders('', body), body)).toEqual([400, 'IncompleteSignature']);
    expect(openApiCalls().map((c) => c.signatureOk)).toEqual([true, true, false, false]);
  });

  it('answers an API it does not have with InvalidAction.NotFound', async () => {
    const client = ecs();
    const params = new openApi.$OpenApiUtil.Params({ action: 'DescribeNothing', version: '2014-05-26', protocol: 'HTTPS', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
    const e = await refusal(client.callApi(params, new openApi.$OpenApiUtil.OpenApiRequest({ query: {} }), {} as never));
    expect([e.statusCode, e.code, e.data?.Message]).toEqual([404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.']);
  });
});

describe('injected faults', () => {
  const listVSwitches = (o?: ClientOptions) => vpc(o).describeVSwitches(new vpcSdk.DescribeVSwitchesRequest({ regionId: 'cn-hangzhou' }));

  it('throttles as many times as asked (Throttling.User → the SDK\'s ThrottlingError), then answers', async () => {
    standIn.fault('DescribeVSwitches', 'throttle', { times: 1 });
    const e = await refusal(listVSwitches());
    expect([e.name, e.statusCode, e.code, e.data?.Message]).toEqual(['ThrottlingError', 400, 'Throttling.User', 'Request was denied due to user flow control.']);
    expect((await ok(listVSwitches())).totalCount).toBe(5);
  });

  it('fails every action with InternalError under "*"', async () => {
    standIn.fault('*', 'internal');
    const e = await refusal(ecs().describeInstanceTypes(new ecsSdk.DescribeInstanceTypesRequest({})));
    expect([e.name, e.statusCode, e.code]).toEqual(['ServerError', 500, 'InternalError']);
    standIn.fault('*', 'unavailable');
    const unavailable = await refusal(listVSwitches());
    expect([unavailable.statusCode, unavailable.code]).toEqual([503, 'ServiceUnavailable']);
  });

  it('stays silent until the SDK\'s read timeout gives up; a delay under it only slows the answer', async () => {
    standIn.fault('DescribeVSwitches', 'timeout');
    const started = Date.now();
    const e = await refusal(listVSwitches({ readTimeout: 300 }));
    expect(e.name).toBe('RequestTimeoutError');
    expect(e.message).toMatch(/ReadTimeout/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(openApiCalls()[0]!.status).toBeUndefined();

    standIn.fault('DescribeVSwitches', { delayMs: 100 });
    const delayedStart = Date.now();
    expect((await ok(listVSwitches({ readTimeout: 1000 }))).totalCount).toBe(5);
    expect(Date.now() - delayedStart).toBeGreaterThanOrEqual(95);
  });
});

describe('the metadata service', () => {
  const get = (path: string, token?: string) => fetch(`${standIn.metadataUrl}${path}`, token ? { headers: { 'X-aliyun-ecs-metadata-token': token } } : {});
  const newToken = async (ttl = '60') =>
    (await fetch(`${standIn.url}/latest/api/token`, { method: 'PUT', headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': ttl } })).text();

  it('answers the instance in plain text; 404 for eipv4 without an EIP and for unknown paths', async () => {
    const text = async (path: string) => {
      const r = await get(path);
      return [r.status, await r.text()];
    };
    expect(await text('instance-id')).toEqual([200, IDS.master]);
    expect(await text('eipv4')).toEqual([200, '203.0.113.20']);
    expect(await text('instance/instance-type')).toEqual([200, 'ecs.g7.xlarge']);
    expect(await text('vswitch-cidr-block')).toEqual([200, '192.168.0.0/24']);
    expect(await text('network/interfaces/macs/')).toEqual([200, '00:16:3e:0a:00:0a/']);
    expect(await text('ram/security-credentials/')).toEqual([200, IDS.ramRole]);
    expect((await get('no-such-thing')).status).toBe(404);

    standIn.world.metadata.instanceId = IDS.worker;
    expect((await get('eipv4')).status).toBe(404);
    expect(await text('network/interfaces/macs/')).toEqual([200, '00:16:3e:0a:01:14/\n00:16:3e:0a:40:05/']);
    const mac = '00:16:3e:0a:40:05';
    expect(await text(`network/interfaces/macs/${mac}/network-interface-id`)).toEqual([200, 'eni-bp1knitworker00000002']);
    expect(await text(`network/interfaces/macs/${mac}/private-ipv4s`)).toEqual([200, '["192.168.64.5","192.168.64.6","192.168.64.7"]']);
    expect(await text(`network/interfaces/macs/${mac}/gateway`)).toEqual([200, '192.168.95.253']);
    expect(await text(`network/interfaces/macs/${mac}/netmask`)).toEqual([200, '255.255.224.0']);
    expect((await get('ram/security-credentials/')).status).toBe(404);
    expect(metadataCalls().map((c) => [c.method, c.path, c.status]).slice(0, 2)).toEqual([
      ['GET', '/latest/meta-data/instance-id', 200],
      ['GET', '/latest/meta-data/eipv4', 200],
    ]);
  });

  it('hands out session tokens for a TTL of 1..21600 s and, in hardened mode, answers only with one', async () => {
    for (const ttl of ['0', '21601', 'x']) expect((await fetch(`${standIn.url}/latest/api/token`, { method: 'PUT', headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': ttl } })).status).toBe(400);
    expect((await fetch(`${standIn.url}/latest/api/token`, { method: 'PUT' })).status).toBe(400);
    standIn.world.metadata.requireToken = true;
    expect((await get('instance-id')).status).toBe(401);
    expect((await get('instance-id', 'forged-token')).status).toBe(401);
    const token = await newToken('21600');
    const r = await get('instance-id', token);
    expect([r.status, await r.text()]).toEqual([200, IDS.master]);
    expect(metadataCalls().filter((c) => c.path === '/latest/meta-data/instance-id').map((c) => [c.withToken, c.status])).toEqual([
      [false, 401],
      [true, 401],
      [true, 200],
    ]);
  });

  it("serves the RAM role's STS credentials, which the SDK can call with; a wrong or expired token is refused", async () => {
    standIn.world.metadata.requireToken = true;
    const token = await newToken();
    const role = await (await get('ram/security-credentials/', token)).text();
    const sts = (await (await get(`ram/security-credentials/${role}`, token)).json()) as Record<string, string>;
    expect(sts).toMatchObject({ AccessKeyId: KEYS.role.id, SecurityToken: KEYS.role.token, Code: 'Success' });
    expect(Date.parse(sts.Expiration!)).toBeGreaterThan(Date.now());

    const credential = new credentialsSdk.default(
      new credentialsSdk.Config({ type: 'sts', accessKeyId: sts.AccessKeyId, accessKeySecret: sts.AccessKeySecret, securityToken: sts.SecurityToken }),
    );
    const client = new ecsSdk.default(new Config({ credential, endpoint: standIn.endpoint, protocol: 'http', regionId: 'cn-hangzhou', readTimeout: 2000 }));
    const listed = await ok(client.describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([IDS.master]) })));
    expect(listed.instances!.instance![0]!.instanceId).toBe(IDS.master);
    expect(openApiCalls()[0]).toMatchObject({ accessKeyId: KEYS.role.id, securityToken: KEYS.role.token, signatureOk: true, status: 200 });

    const wrongToken = await refusal(listInstancesWith({ id: sts.AccessKeyId!, secret: sts.AccessKeySecret!, token: 'CAISsome-other-token' }));
    expect([wrongToken.statusCode, wrongToken.code]).toEqual([400, 'InvalidSecurityToken.MismatchWithAccessKey']);
    const noToken = await refusal(listInstancesWith({ id: sts.AccessKeyId!, secret: sts.AccessKeySecret! }));
    expect(noToken.code).toBe('MissingSecurityToken');
    standIn.world.accessKeys.find((k) => k.accessKeyId === KEYS.role.id)!.expiration = '2020-01-01T00:00:00Z';
    const expired = await refusal(listInstancesWith({ id: sts.AccessKeyId!, secret: sts.AccessKeySecret!, token: sts.SecurityToken! }));
    expect(expired.code).toBe('InvalidSecurityToken.Expired');
  });

  const listInstancesWith = (key: { id: string; secret: string; token?: string }) =>
    ecs({ key }).describeInstances(new ecsSdk.DescribeInstancesRequest({ regionId: 'cn-hangzhou' }));
});
