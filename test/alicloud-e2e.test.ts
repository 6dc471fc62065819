/**
 * knit against local stand-ins of the ECS metadata service and the ECS/VPC OpenAPI (test/fakes/alicloud),
 * through the built CLI: the real SDK signs real requests, the stand-in checks the signatures and answers
 * in the real shapes. Detection, max pods for real instance types, the Terway cloud checks, the
 * security-group check of the overlay across VPCs, the credentials chain (environment and instance
 * RAM role), API failures with their exit codes and no partial changes, and a grep of every command's
 * output for the secrets.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir } from 'node:fs/promises';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeApiError } from '../src/cloud/alicloud/api.js';
import { startAlicloudStandIn, type StandIn } from './fakes/alicloud/server.js';
import { defaultWorld, IDS, KEYS } from './fakes/alicloud/world.js';
import { createFakeHost } from './helpers/fake-host.js';
import { knit } from './helpers/knit.js';

let cloud: StandIn;
let home: string;
beforeEach(async () => {
  cloud = await startAlicloudStandIn(defaultWorld());
  // an empty HOME: no ~/.alibabacloud or ~/.aliyun profile of the machine running the tests joins the chain
  home = await mkdtemp(join(tmpdir(), 'knit-home-'));
});
afterEach(() => cloud.close());

const FULL_KEY = { ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.full.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.full.secret };
/** This test process's environment may not lend knit credentials: every variable the chain reads is blanked. */
const NO_KEY = { ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '', ALIBABA_CLOUD_SECURITY_TOKEN: '', ALIBABA_CLOUD_CREDENTIALS_URI: '' };

/** knit on "the ECS instance" the stand-in's metadata speaks for, its APIs at the stand-in. */
const onEcs = (args: string[], env: Record<string, string> = {}) =>
  knit(args, {
    env: {
      HOME: home,
      KNIT_ECS_METADATA_URL: cloud.metadataUrl,
      KNIT_ALICLOUD_ENDPOINT: cloud.url,
      KNIT_ALICLOUD_TIMEOUT_MS: '500',
      ...NO_KEY,
      ...env,
    },
  });

const actions = () => cloud.requests.flatMap((r) => (r.kind === 'openapi' ? [r.action] : []));

describe('knit alicloud detect', () => {
  it('reads the instance from the metadata service (with the hardened-mode token)', async () => {
    cloud.world.metadata.requireToken = true;
    const r = await onEcs(['alicloud', 'detect', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      instanceId: IDS.master,
      regionId: 'cn-hangzhou',
      zoneId: 'cn-hangzhou-h',
      instanceType: 'ecs.g7.xlarge',
      privateIP: '192.168.0.10',
      publicIP: '203.0.113.20',
      vpcId: IDS.vpc,
      vswitchId: IDS.nodeVSwitchH,
      vswitchCidr: '192.168.0.0/24',
      mac: '00:16:3e:0a:00:0a',
      hostname: 'knit-master-1',
      ramRole: IDS.ramRole,
    });
    expect(cloud.requests.filter((q) => q.kind === 'metadata' && q.method === 'GET').every((q) => q.kind === 'metadata' && q.withToken)).toBe(true);
  });

  it('off ECS (nothing answers) says so and exits 1', async () => {
    const r = await knit(['alicloud', 'detect'], { env: { KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: not on ECS: the ECS metadata service \(http:\/\/127\.0\.0\.1:9\/latest\/meta-data\/\) is not reachable/);
  });

  it('off ECS, init says it uses the spec and flags as information; a missing value is the error after it', async () => {
    const offEcs = { env: { KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/' } };
    const r = await knit(['init', '--dry-run', '--node-name', 'cp'], offEcs);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('not on ECS: using the spec and flags only');
    expect(lines[1]).toMatch(/^error: nodes\[0\]\.privateIP \(--advertise-address\): is required/);
    // why the metadata service gave nothing: with --debug
    const debug = await knit(['init', '--dry-run', '--node-name', 'cp', '--debug'], offEcs);
    expect(debug.stderr.split('\n')[0]).toMatch(/^not on ECS: using the spec and flags only \(the ECS metadata service \(http:\/\/127\.0\.0\.1:9\/latest\/meta-data\/\) is not reachable/);
  });
});

describe('knit alicloud max-pods', () => {
  it('real instance types through DescribeInstanceTypes: shared ENI (ENIs − 1) × IPs, plus host-network pods', async () => {
    const types = ['ecs.g7.large', 'ecs.g7.xlarge', 'ecs.c7.2xlarge', 'ecs.g6.large', 'ecs.t6-c1m1.large'];
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', ...types, '-o', 'json'], FULL_KEY);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { instanceType: string; podCapacity: number; maxPods: number; warning?: string }[];
    expect(rows.map((x) => [x.instanceType, x.podCapacity, x.maxPods])).toEqual([
      ['ecs.g7.large', 12, 14],
      ['ecs.g7.xlarge', 45, 47],
      ['ecs.c7.2xlarge', 45, 47],
      ['ecs.g6.large', 6, 8],
      ['ecs.t6-c1m1.large', 2, 4],
    ]);
    // the low-spec trap: fewer pods than the 16 planned by default
    expect(rows.filter((x) => x.warning).map((x) => x.instanceType)).toEqual(['ecs.g7.large', 'ecs.g6.large', 'ecs.t6-c1m1.large']);
    const call = cloud.requests.find((q) => q.kind === 'openapi' && q.action === 'DescribeInstanceTypes');
    expect(call).toMatchObject({ signatureOk: true, accessKeyId: KEYS.full.id, params: { 'InstanceTypes.1': 'ecs.g7.large', 'InstanceTypes.5': 'ecs.t6-c1m1.large' } });
  });

  it('more than the 10 types one DescribeInstanceTypes call takes are asked in batches', async () => {
    const real = ['ecs.g7.large', 'ecs.g7.xlarge', 'ecs.c7.2xlarge', 'ecs.g6.large', 'ecs.t6-c1m1.large', 'ecs.t5-lc1m1.small', 'ecs.u1-c1m4.xlarge'];
    const types = [...real, ...real.slice(0, 5)];
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', ...types, '-o', 'json'], FULL_KEY);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(12);
    expect(actions()).toEqual(['DescribeInstanceTypes', 'DescribeInstanceTypes']);
  });

  it("exclusive ENI on this instance's own type, with the instance RAM role's STS credentials", async () => {
    const r = await onEcs(['alicloud', 'max-pods', '--mode', 'eni', '--role', 'control-plane']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ecs\.g7\.xlarge\s+4\s+15\s+eni\s+3\s+6\s+9$/m);
    expect(r.stdout).toContain('warning: ecs.g7.xlarge holds only 3 Terway pods (4 ENIs, eni), fewer than the 16 planned');
    expect(r.stderr).toContain(`Alibaba Cloud credentials: ecs_ram_role (AccessKey ${KEYS.role.id.slice(0, 8)}…)`);
    expect(cloud.requests.find((q) => q.kind === 'openapi')).toMatchObject({ accessKeyId: KEYS.role.id, securityToken: KEYS.role.token, signatureOk: true });
  });

  it('a RAM user without ecs:DescribeInstanceTypes: exit 4 naming the permission and the fix', async () => {
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], {
      ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.limited.id,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.limited.secret,
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('error: ECS DescribeInstanceTypes: permission denied (Forbidden.RAM): the credentials lack ecs:DescribeInstanceTypes');
    expect(r.stderr).toContain(`knit was reading the ENI limits of ecs.g7.large from ${cloud.url}`);
    expect(r.stderr).toContain('knit alicloud ram-policy');
    // the SDK's text, kept as it is, but only as the last detail
    expect(r.stderr).toMatch(/\nAlibaba Cloud's answer: Forbidden\.RAM: User not authorized to operate on the specified resource, or this API doesn't support RAM\. \(request id [\w-]+\)$/);
  });

  it('a wrong secret is refused by the signature check: exit 4', async () => {
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], { ...FULL_KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-secret-at-all-000000000' });
    expect(r.code).toBe(4);
    expect(r.stderr.split('\n').slice(1)).toEqual([
      'error: ECS DescribeInstanceTypes: the credentials were refused (IncompleteSignature): the AccessKey secret does not belong to the AccessKey ID',
      `knit was reading the ENI limits of ecs.g7.large from ${cloud.url}, signed with the credentials from env`,
      'check ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN with STS credentials), or unset them to use the next source',
      expect.stringMatching(/^Alibaba Cloud's answer: IncompleteSignature: The request signature does not conform to Aliyun standards\. \(string to sign omitted\) \(request id [\w-]+\)$/),
    ]);
    expect(cloud.requests.find((q) => q.kind === 'openapi')).toMatchObject({ signatureOk: false });
  });

  it('an AccessKey ID the cloud does not know: exit 4, said in knit\'s words, the SDK\'s text last', async () => {
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI5tNoSuchKey0000', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'x'.repeat(30) });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      'error: ECS DescribeInstanceTypes: the credentials were refused (InvalidAccessKeyId.NotFound): Alibaba Cloud knows no such AccessKey ID (deleted, disabled, or of another account or site)',
    );
    expect(r.stderr).toMatch(/\nAlibaba Cloud's answer: InvalidAccessKeyId\.NotFound: Specified access key is not found\. \(request id [\w-]+\)$/);
  });

  it('no credentials anywhere (no variables, no profile, no RAM role): exit 4 saying where they can come from', async () => {
    cloud.world.instances[0]!.ramRoleName = undefined;
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: no Alibaba Cloud credentials found\ngive them as ALIBABA_CLOUD_ACCESS_KEY_ID/);
    expect(actions()).toEqual([]);
  });

  it("a credentials source's failure is reported without its response, which can hold a secret", async () => {
    cloud.world.instances[0]!.ramRoleName = undefined;
    // a credentials URI answering with a secret but no token, which the library refuses, quoting what it got
    const leaky = createServer((_req, res) => res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'LTAI5tLeaky', AccessKeySecret: 'leaky-secret-1234567890', Expiration: '2099-01-01T00:00:00Z' })));
    await new Promise<void>((r) => leaky.listen(0, '127.0.0.1', r));
    try {
      const uri = `http://127.0.0.1:${(leaky.address() as AddressInfo).port}/`;
      const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large', '--debug'], { ALIBABA_CLOUD_CREDENTIALS_URI: uri });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('no Alibaba Cloud credentials found');
      expect(`${r.stdout}${r.stderr}`).not.toContain('leaky-secret-1234567890');
    } finally {
      await new Promise((r) => leaky.close(r));
    }
  });

  it('throttling is retried: once is absorbed, always is exit 1 after 3 attempts', async () => {
    cloud.fault('DescribeInstanceTypes', 'throttle', { times: 1 });
    const once = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], FULL_KEY);
    expect(once.code, once.stderr).toBe(0);
    expect(actions()).toEqual(['DescribeInstanceTypes', 'DescribeInstanceTypes']);

    cloud.fault('DescribeInstanceTypes', 'throttle');
    const always = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], FULL_KEY);
    expect(always.code).toBe(1);
    expect(always.stderr.split('\n').slice(1)).toEqual([
      'error: ECS DescribeInstanceTypes: Alibaba Cloud throttled the calls (Throttling.User) on all 3 attempts',
      `knit was reading the ENI limits of ecs.g7.large from ${cloud.url}`,
      'wait a minute and run the command again (knit only reads from the API; nothing was changed there)',
      expect.stringMatching(/^Alibaba Cloud's answer: Throttling\.User: Request was denied due to user flow control\. \(request id [\w-]+\)$/),
    ]);
    expect(actions()).toHaveLength(5);
  });

  it('a service failure on every attempt: exit 1, what failed in knit\'s words, the SDK\'s text last', async () => {
    cloud.fault('DescribeInstanceTypes', 'unavailable');
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], FULL_KEY);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: ECS DescribeInstanceTypes: the ECS API failed (ServiceUnavailable) on all 3 attempts\n');
    expect(r.stderr).toMatch(/\nAlibaba Cloud's answer: ServiceUnavailable: The request has failed due to a temporary failure of the server\. \(request id [\w-]+\)$/);
  });

  it('an API that never answers: exit 1 after the timeout, naming the endpoint', async () => {
    cloud.fault('DescribeInstanceTypes', 'timeout');
    const r = await onEcs(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], FULL_KEY);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ECS DescribeInstanceTypes: no answer from ${cloud.url} within 0.5 s (3 attempts)`);
    expect(r.stderr).toMatch(/\nthe SDK said: ReadTimeout\(500\)/);
  });
});

const terwaySpec = async (vswitches: string[]): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'knit-terway-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, [
    'network:',
    '  plugin: terway',
    '  terway:',
    `    vswitches: { cn-hangzhou-h: [${vswitches.join(', ')}] }`,
    'nodes:',
    '  - { name: master-1, role: control-plane, privateIP: 192.168.0.10 }',
    '',
  ].join('\n'));
  return file;
};

describe('Terway on ECS: init fills the spec from the cloud', () => {
  it('--dry-run: provider-id, topology labels and maxPods for the kubelet; security groups from DescribeInstances', async () => {
    const r = await onEcs(['init', '--dry-run', '-o', 'json', '-f', await terwaySpec([IDS.podVSwitchH])], FULL_KEY);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`ECS instance ${IDS.master} (ecs.g7.xlarge) in cn-hangzhou-h: private IP 192.168.0.10, EIP 203.0.113.20`);
    const plan = JSON.parse(r.stdout) as { steps: { id: string; effects: { kind: string; path?: string; content?: string; yaml?: string }[] }[] };
    const effects = plan.steps.flatMap((s) => s.effects);
    const kubeadm = effects.find((e) => e.path === '/etc/knit/kubeadm-config.yaml')!.content!;
    expect(kubeadm).toContain(`value: cn-hangzhou.${IDS.master}`);
    expect(kubeadm).toContain('topology.kubernetes.io/region=cn-hangzhou,topology.kubernetes.io/zone=cn-hangzhou-h,node.kubernetes.io/instance-type=ecs.g7.xlarge');
    // (4 − 1) × 15 = 45 Terway pods + 6 host-network pods of a control plane
    expect(kubeadm).toMatch(/name: max-pods\n\s+value: "51"/);
    const cni = effects.find((e) => e.kind === 'kube-apply' && /eni-config/.test(e.yaml ?? ''))!.yaml!;
    expect(cni).toContain(IDS.nodesSecurityGroup);
    expect(new Set(actions())).toEqual(new Set(['DescribeInstances', 'DescribeInstanceTypes', 'DescribeVSwitches', 'DescribeNatGateways', 'DescribeSnatTableEntries']));
  });

  it('an API failure stops init with exit 4 before anything on the host changes', async () => {
    const host = await createFakeHost();
    try {
      const r = await onEcs(['init', '--yes', '-f', await terwaySpec([IDS.podVSwitchH])], {
        ...host.env,
        ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.limited.id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.limited.secret,
      });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('permission denied (Forbidden.RAM)');
      expect(await readdir(host.root)).toEqual([]);
      expect(await host.calls()).toEqual([]);
    } finally {
      await host.cleanup();
    }
  });
});

describe('knit preflight --cni terway on ECS: the cloud checks', () => {
  it('SNAT by vSwitch id and by covering CIDR pass; the uncovered vSwitch gets the exact CreateSnatEntry', async () => {
    const spec = await terwaySpec([IDS.podVSwitchH, IDS.podVSwitchI, IDS.podVSwitchUncovered]);
    const r = await onEcs(['preflight', '-f', spec, '--node-name', 'master-1', '-o', 'json', '--ignore', 'all'], FULL_KEY);
    const checks = Object.fromEntries((JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[] }).checks.map((c) => [c.id, c]));
    expect(checks['alicloud/snat']).toMatchObject({ status: 'warn' });
    expect(checks['alicloud/snat']!.reason).toContain(`pods on ${IDS.podVSwitchUncovered} (192.168.128.0/20) cannot reach the internet`);
    expect(checks['alicloud/snat']!.reason).not.toContain(`pods on ${IDS.podVSwitchI}`);
    expect(checks['alicloud/snat']!.reason).toContain(
      `aliyun vpc CreateSnatEntry --RegionId cn-hangzhou --SnatTableId ${IDS.snatTable} --SourceVSwitchId ${IDS.podVSwitchUncovered} --SnatIp 203.0.113.10`,
    );
    expect(checks['alicloud/vswitch-ips']).toMatchObject({ status: 'pass' });
    expect(checks['alicloud/ram-role']).toMatchObject({ status: 'pass', reason: `Terway uses the instance RAM role ${IDS.ramRole}` });
    expect(checks['alicloud/max-pods']).toMatchObject({ status: 'pass', reason: 'ecs.g7.xlarge: 45 Terway pods + 6 host-network pods = maxPods 51' });
  });

  it('a vSwitch the VPC does not have fails preflight (exit 3)', async () => {
    const r = await onEcs(['preflight', '-f', await terwaySpec(['vsw-bp1doesnotexist']), '--node-name', 'master-1', '--ignore', 'system', 'sysctl', 'modules', 'runtime', 'binaries', 'ports', 'swap', 'selinux', 'firewalld', 'cni', 'iptables'], FULL_KEY);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('alicloud/vswitches');
  });
});

/** The stand-in's master (192.168.0.10, EIP 203.0.113.20) with worker-0 in its VPC and worker-1, worker-2 in two others. */
const crossVpcSpec = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'knit-crossvpc-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, [
    'kubernetes: { version: "1.32.4", controlPlaneEndpoint: "203.0.113.20:6443" }',
    'network: { plugin: flannel }',
    'nodes:',
    '  - { name: master-1, role: control-plane, privateIP: 192.168.0.10, publicIP: 203.0.113.20 }',
    '  - { name: worker-0, role: worker, privateIP: 192.168.0.11 }',
    '  - { name: worker-1, role: worker, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }',
    '  - { name: worker-2, role: worker, privateIP: 172.18.0.30, publicIP: 198.51.100.30 }',
    '',
  ].join('\n'));
  return file;
};

describe('cross-VPC flannel on ECS: who may send the overlay, as the security groups say', () => {
  type Check = { id: string; status: string; reason: string };
  /** `knit preflight -o json` on the stand-in's master, with the instance RAM role's credentials unless told. */
  const preflight = async (env: Record<string, string> = {}) => {
    const r = await onEcs(['preflight', '-f', await crossVpcSpec(), '--node-name', 'master-1', '-o', 'json', '--ignore', 'all'], env);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    return { r, check: checks.find((c) => c.id === 'alicloud/security-group') };
  };
  const groups = () => ({
    nodes: cloud.world.securityGroups.find((g) => g.securityGroupId === IDS.nodesSecurityGroup)!,
    overlay: cloud.world.securityGroups.find((g) => g.securityGroupId === IDS.overlaySecurityGroup)!,
  });
  const REVOKE = `aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId ${IDS.nodesSecurityGroup} --SecurityGroupRuleId.1 ${IDS.vxlanWorldRule}`;
  const AUTHORIZE_WORKER_2 =
    `aliyun ecs AuthorizeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId ${IDS.overlaySecurityGroup} --Permissions.1.IpProtocol UDP --Permissions.1.PortRange 8472/8472 ` +
    '--Permissions.1.SourceCidrIp 198.51.100.30/32 --Permissions.1.Policy accept --Permissions.1.Priority 1 --Permissions.1.Description knit-overlay-from-worker-2';

  it('8472/udp open to 0.0.0.0/0: warn with the revoke line; worker-2 without a rule: the authorize line; worker-1 scoped in the overlay group', async () => {
    const { r, check } = await preflight();
    expect(r.code, r.stderr).toBe(0);
    expect(check).toMatchObject({ status: 'warn' });
    expect(check!.reason).toMatch(new RegExp(`^security groups ${IDS.nodesSecurityGroup}, ${IDS.overlaySecurityGroup}: 8472/udp \\(VXLAN\\) is open to the internet \\(0\\.0\\.0\\.0/0\\) by ${IDS.nodesSecurityGroup} rule ${IDS.vxlanWorldRule}`));
    expect(check!.reason).toContain('8472/udp (VXLAN) is not allowed from worker-2 (198.51.100.30, its public IP);');
    expect(check!.reason).toContain(`first authorize the cluster's nodes: ${AUTHORIZE_WORKER_2}; then revoke what is open beyond the cluster: ${REVOKE}`);
    expect(check!.reason).not.toContain('198.51.100.20/32 --');
    expect(actions()).toEqual(['DescribeInstances', 'DescribeSecurityGroupAttribute', 'DescribeSecurityGroupAttribute']);
    expect(cloud.requests.filter((q) => q.kind === 'openapi').every((q) => q.kind === 'openapi' && q.signatureOk && q.accessKeyId === KEYS.role.id)).toBe(true);
    expect(cloud.requests.some((q) => q.kind === 'metadata' && q.path.endsWith('/vpc-cidr-block'))).toBe(true);
  });

  it('scoped to the peers: pass', async () => {
    const { nodes, overlay } = groups();
    nodes.rules = nodes.rules.filter((x) => x.securityGroupRuleId !== IDS.vxlanWorldRule);
    overlay.rules.push({ ...overlay.rules[0]!, securityGroupRuleId: 'sgr-bp1knitvxlanpeer00002', source: { cidr: '198.51.100.30/32' } });
    const { check } = await preflight();
    expect(check).toEqual({
      id: 'alicloud/security-group',
      status: 'pass',
      reason: `security groups ${IDS.nodesSecurityGroup}, ${IDS.overlaySecurityGroup} let 8472/udp (VXLAN) in only from the cluster: 2 peer(s) in other VPCs by public IP, 1 node(s) of this VPC by private IP, if they are members of ${IDS.nodesSecurityGroup}`,
      fixable: false,
    });
  });

  it('a peer missing, nothing open: warn with the authorize line alone', async () => {
    const { nodes } = groups();
    nodes.rules = nodes.rules.filter((x) => x.securityGroupRuleId !== IDS.vxlanWorldRule);
    const { check } = await preflight();
    expect(check!.status).toBe('warn');
    expect(check!.reason).toBe(
      `security groups ${IDS.nodesSecurityGroup}, ${IDS.overlaySecurityGroup}: 8472/udp (VXLAN) is not allowed from worker-2 (198.51.100.30, its public IP); authorize the cluster's nodes: ${AUTHORIZE_WORKER_2}`,
    );
  });

  it('credentials without ecs:DescribeSecurityGroupAttribute, or none at all: a warning saying why, never exit 4', async () => {
    cloud.world.accessKeys.find((k) => k.ramRole)!.deny = ['DescribeSecurityGroupAttribute'];
    const denied = await preflight();
    expect(denied.r.code, denied.r.stderr).toBe(0);
    expect(denied.check).toMatchObject({ status: 'warn' });
    expect(denied.check!.reason).toMatch(
      new RegExp(`^the security groups of ${IDS.master} could not be read \\(ECS DescribeSecurityGroupAttribute: permission denied \\(Forbidden\\.RAM\\): the credentials lack ecs:DescribeSecurityGroupAttribute\\), so whether 8472/udp \\(VXLAN\\) is open beyond the cluster is unknown`),
    );
    cloud.world.instances[0]!.ramRoleName = undefined;
    const none = await preflight();
    expect(none.r.code, none.r.stderr).toBe(0);
    expect(none.check!.reason).toContain(`the security groups of ${IDS.master} could not be read (no Alibaba Cloud credentials found)`);
  });

  it('init: the warning comes before the plan, and a missing permission does not stop a flannel init', async () => {
    cloud.world.accessKeys.find((k) => k.ramRole)!.deny = ['DescribeSecurityGroupAttribute'];
    const host = await createFakeHost();
    try {
      const r = await onEcs(['init', '--yes', '-f', await crossVpcSpec(), '--skip', 'crossvpc', '--ignore-preflight-errors', 'all'], host.env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: alicloud/security-group: the security groups of ${IDS.master} could not be read (ECS DescribeSecurityGroupAttribute: permission denied (Forbidden.RAM)`);
      expect(await host.calls()).toContain('kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs');
    } finally {
      await host.cleanup();
    }
  });

  it('init --dry-run asks no API (its preflight phase does not run)', async () => {
    const r = await onEcs(['init', '--dry-run', '-f', await crossVpcSpec()]);
    expect(r.code, r.stderr).toBe(0);
    expect(actions()).toEqual([]);
  });

  it('doctor: the finding crossvpc/security-group, with the lines', async () => {
    const r = await onEcs(['doctor', '-f', await crossVpcSpec(), '--node-name', 'master-1', '-o', 'json']);
    const findings = (JSON.parse(r.stdout) as { findings: { id: string; status: string; message: string }[] }).findings;
    const finding = findings.find((f) => f.id === 'crossvpc/security-group');
    expect(finding).toMatchObject({ status: 'warn' });
    expect(finding!.message).toContain(REVOKE);
    expect(finding!.message).toContain(AUTHORIZE_WORKER_2);
  });

  it("another node's name on this host: not checked, and said so", async () => {
    const r = await onEcs(['preflight', '-f', await crossVpcSpec(), '--node-name', 'worker-1', '-o', 'json', '--ignore', 'all']);
    const check = (JSON.parse(r.stdout) as { checks: Check[] }).checks.find((c) => c.id === 'alicloud/security-group');
    expect(check).toMatchObject({ status: 'warn', reason: `not checked: this host is ${IDS.master} (192.168.0.10), not worker-1 (172.17.0.20); run it on worker-1, or name this host's node with --node-name` });
    expect(actions()).toEqual([]);
  });

  it('off ECS nothing is asked and there is no such check', async () => {
    const r = await knit(['preflight', '-f', await crossVpcSpec(), '--node-name', 'master-1', '-o', 'json', '--ignore', 'all'], {
      env: { HOME: home, KNIT_ALICLOUD_ENDPOINT: cloud.url, ...FULL_KEY },
    });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { checks: Check[] }).checks.map((c) => c.id)).not.toContain('alicloud/security-group');
    expect(cloud.requests).toEqual([]);
  });
});

describe('secrets', () => {
  it('no command prints the AccessKey secret or the STS secret and token, in text, JSON, dry-run or errors', async () => {
    const spec = await terwaySpec([IDS.podVSwitchH, IDS.podVSwitchUncovered]);
    const accessKeySpec = spec.replace(/\.yaml$/, '-ak.yaml');
    await writeFile(accessKeySpec, (await import('node:fs')).readFileSync(spec, 'utf8').replace('  terway:\n', '  terway:\n    credentials: access-key\n'));
    const runs = [
      ['alicloud', 'detect'],
      ['alicloud', 'max-pods'],
      ['alicloud', 'max-pods', '-o', 'json', '--debug'],
      ['alicloud', 'ram-policy'],
      ['render', '-f', accessKeySpec, '--advertise-address', '192.168.0.10'],
      ['render', '-f', accessKeySpec, '--advertise-address', '192.168.0.10', '-o', 'json'],
      ['init', '--dry-run', '-f', accessKeySpec],
      ['init', '--dry-run', '-f', accessKeySpec, '-o', 'json'],
      ['join', '--dry-run', '-f', accessKeySpec, '--node-name', 'master-1', '--endpoint', '203.0.113.20:6443', '--token', 'abcdef.0123456789abcdef', '--ca-cert-hash', `sha256:${'a'.repeat(64)}`],
      ['preflight', '-f', spec, '--node-name', 'master-1', '-o', 'json'],
      ['doctor', '-f', spec, '--node-name', 'master-1'],
    ];
    // every run twice: AccessKey credentials from the environment, then the instance RAM role's STS credentials
    const results = await Promise.all(runs.flatMap((args) => [FULL_KEY, {}].map((env) => onEcs(args, env))));
    const outputs = results.map((r) => `${r.stdout}${r.stderr}`);
    // a failing call prints its error with --debug's stack trace too
    cloud.fault('*', 'internal');
    const failed = await onEcs(['alicloud', 'max-pods', '--debug'], FULL_KEY);
    expect(failed.code).toBe(1);
    outputs.push(`${failed.stdout}${failed.stderr}`);
    const all = outputs.join('\n');
    expect(all).toContain('ecs.g7.xlarge'); // the runs did reach the cloud
    for (const secret of [KEYS.full.secret, KEYS.role.secret, KEYS.role.token]) expect(all).not.toContain(secret);
  }, 60_000);
});

describe('lazy loading', () => {
  it('`knit --help` and an offline render load no Alibaba Cloud SDK module; max-pods does', async () => {
    const hook = fileURLToPath(new URL('./helpers/record-requires.cjs', import.meta.url));
    const sdkModules = async (args: string[], env: Record<string, string> = {}) => {
      const r = await onEcs(args, { NODE_OPTIONS: `--require ${hook}`, KNIT_NO_CODE_CACHE: '1', ...env });
      expect(r.code, r.stderr).toBe(0);
      return r.stderr.split('\n').filter((l) => l.startsWith('require: @alicloud/'));
    };
    expect(await sdkModules(['--help'])).toEqual([]);
    expect(await sdkModules(['render', '--advertise-address', '10.0.0.10'])).toEqual([]);
    expect(await sdkModules(['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'], FULL_KEY)).toContain('require: @alicloud/ecs20140526');
  });
});

describe('API errors: what knit tried and what to do, then the SDK\'s text as it is', () => {
  const sdk = (code: string, message: string) => ({ code, message: `code: 400, ${message} request id: R1`, data: { RequestId: 'R1', Message: message } });

  it.each([
    ['a missing resource', sdk('InvalidSecurityGroupId.NotFound', 'The specified SecurityGroupId does not exist.'),
      'ECS DescribeSecurityGroupAttribute: Alibaba Cloud does not know what knit asked for (InvalidSecurityGroupId.NotFound)', /^check the ids in the spec/],
    ['a refused parameter', sdk('InvalidParameter', 'The specified parameter "X" is not valid.'),
      'ECS DescribeSecurityGroupAttribute: Alibaba Cloud refused the call (InvalidParameter)', /^check the ids and the region in the spec; when they are right, this is a bug in knit/],
    ['an expired STS token', sdk('InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.'),
      'ECS DescribeSecurityGroupAttribute: the credentials were refused (InvalidSecurityToken.Expired): the STS security token has expired', /^the instance RAM role's temporary credentials were refused/],
  ])('%s', (_, err, headline, fix) => {
    const e = describeApiError('ECS', 'DescribeSecurityGroupAttribute', err, 'ecs.cn-hangzhou.aliyuncs.com', 5000, {
      purpose: 'reading the rules of security group sg-1',
      credentialsSource: 'ecs_ram_role',
    });
    expect(e.message).toBe(headline);
    expect(e.message).not.toContain(err.data.Message);
    expect(e.details[0]).toMatch(/^knit was reading the rules of security group sg-1 from ecs\.cn-hangzhou\.aliyuncs\.com/);
    expect(e.details[1]).toMatch(fix);
    expect(e.details.at(-1)).toBe(`Alibaba Cloud's answer: ${err.code}: ${err.data.Message} (request id R1)`);
  });

  it('an error without a code (a failure inside the SDK): the call failed, the SDK\'s text last', () => {
    const e = describeApiError('VPC', 'DescribeVSwitches', new TypeError("Cannot read properties of undefined (reading 'body')"), 'the VPC endpoint of cn-hangzhou');
    expect([e.exitCode, e.message]).toEqual([1, 'VPC DescribeVSwitches: the call failed']);
    expect(e.details).toEqual([
      'knit was reading the pod vSwitches from the VPC endpoint of cn-hangzhou',
      'run the command again; if it keeps failing, run it with --debug and report the output',
      "the SDK said: Cannot read properties of undefined (reading 'body')",
    ]);
  });
});
