/**
 * Hybrid clusters (Terway on ECS nodes, Flannel or Calico on external nodes): CoreDNS kept on the VPC
 * side by init's `cni/coredns-placement`, the VPC route entry knit prints for the external pods'
 * CIDR, its check (pure, and through `knit doctor` against the ECS/VPC stand-in), and the stand-in's
 * DescribeRouteTableList / DescribeRouteEntryList in the real SDK's shapes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cniNodeLabels, renderCni } from '../src/cni/index.js';
import { corednsPlacementSteps, createRouteEntryCommand, hybridRoute, hybridRouteNote, routeTablesServing, vpcSidePlacementPatch } from '../src/cni/hybrid.js';
import { hybridRouteCheck, type HybridRouteFacts } from '../src/cloud/alicloud/checks.js';
import { diagnose, type DoctorFacts } from '../src/doctor/diagnose.js';
import { readTemplate } from '../src/host/templates.js';
import { planInit } from '../src/plan/init.js';
import { loadSpec } from '../src/spec/load.js';
import type { Spec } from '../src/spec/schema.js';
import { startAlicloudStandIn, type StandIn } from './fakes/alicloud/server.js';
import { defaultWorld, IDS, KEYS } from './fakes/alicloud/world.js';
import { knit } from './helpers/knit.js';

const caseText = (file: string) => readFileSync(join(import.meta.dirname, 'cases', file), 'utf8');
const specOf = (text: string, name = 'cluster.yaml') => loadSpec({ file: { name, text }, hostname: 'unused' });
const hybridCase = () => specOf(caseText('terway-hybrid-flannel.yaml'));
/** The hybrid case with a region and the VPN gateway that reaches the data center. */
const withNextHop = (): Spec =>
  specOf(
    caseText('terway-hybrid-flannel.yaml')
      .replace('hybrid: { externalPlugin: flannel }', `hybrid: { externalPlugin: flannel, nextHop: { type: VpnGateway, id: ${IDS.vpnGateway} } }`)
      .replace('network:\n', 'alicloud: { region: cn-hangzhou }\nnetwork:\n'),
  ).spec;

const initSteps = (file: string) => {
  const { spec, localNode } = specOf(caseText(file), file);
  const node = spec.nodes.find((n) => n.name === localNode)!;
  // the render context is changing under another helper: what every version takes, plus the host MTU some take
  const cni = renderCni({ spec, template: readTemplate });
  return planInit({ spec, node, home: '/root', cni });
};

describe('init: CoreDNS on the VPC side', () => {
  it('a hybrid spec patches kubeadm\'s CoreDNS with a required affinity off the external nodes, after the CNI', () => {
    const steps = initSteps('terway-hybrid-flannel.yaml');
    const ids = steps.map((s) => s.id);
    const i = ids.indexOf('cni/coredns-placement');
    expect(i).toBeGreaterThan(ids.indexOf('cni/apply'));
    expect(i).toBeLessThan(ids.indexOf('wait/node-ready'));
    const effect = steps[i]!.effects[0]!;
    expect(effect.kind).toBe('exec');
    const argv = (effect as { argv: string[] }).argv;
    expect(argv.slice(0, -1)).toEqual(['kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', '--namespace', 'kube-system', 'patch', 'deployment', 'coredns', '--type', 'strategic', '--patch']);
    expect(JSON.parse(argv.at(-1)!)).toEqual({
      spec: {
        template: {
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'alibabacloud.com/external', operator: 'NotIn', values: ['true'] }] }],
                },
              },
            },
          },
        },
      },
    });
  });

  it('the affinity matches the label external nodes register with', () => {
    const { spec } = hybridCase();
    const external = spec.nodes.find((n) => n.external)!;
    // the label kubelet gets (src/cni/index.ts) is the one the affinity excludes
    const [key, value] = Object.entries(cniNodeLabels(spec, external)).find(([k]) => k.endsWith('/external'))!;
    const expr = JSON.parse(vpcSidePlacementPatch()).spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0];
    expect([expr.key, expr.operator, expr.values]).toEqual([key, 'NotIn', [value]]);
  });

  it.each(['cross-vpc-flannel.yaml', 'terway-eni-policy.yaml', 'calico-ipip.yaml'])('%s (not hybrid): no such step, no route', (file) => {
    expect(initSteps(file).map((s) => s.id)).not.toContain('cni/coredns-placement');
    const { spec } = specOf(caseText(file), file);
    expect(corednsPlacementSteps(spec)).toEqual([]);
    expect(hybridRoute(spec)).toBeUndefined();
    expect(hybridRouteNote(spec)).toBeUndefined();
  });
});

describe('the VPC route to the external pods', () => {
  it('with region and next hop in the spec, only the route table is left to the operator', () => {
    const spec = withNextHop();
    expect(hybridRoute(spec)).toEqual({ destinationCidr: '10.244.0.0/16', nextHop: { type: 'VpnGateway', id: IDS.vpnGateway } });
    const note = hybridRouteNote(spec)!;
    expect(note).toContain(
      `aliyun vpc CreateRouteEntry --RegionId cn-hangzhou --RouteTableId <ROUTE_TABLE_ID> --DestinationCidrBlock 10.244.0.0/16 --NextHopType VpnGateway --NextHopId ${IDS.vpnGateway} --RouteEntryName knit-external-pods`,
    );
    expect(note).toContain('<ROUTE_TABLE_ID>: each route table that serves');
    expect(note).not.toContain('<NEXT_HOP');
    expect(note).not.toContain('<REGION_ID>');
  });

  it('without them, placeholders the note explains; the plan carries it on the step', () => {
    const { spec } = hybridCase();
    const [step] = corednsPlacementSteps(spec);
    expect(step!.note).toContain('--RegionId <REGION_ID> --RouteTableId <ROUTE_TABLE_ID> --DestinationCidrBlock 10.244.0.0/16 --NextHopType <NEXT_HOP_TYPE> --NextHopId <NEXT_HOP_ID>');
    expect(step!.note).toContain('set network.hybrid.nextHop');
  });

  it('with every value known, the exact line', () => {
    expect(createRouteEntryCommand({ destinationCidr: '10.244.0.0/16', nextHop: { type: 'RouterInterface', id: 'ri-bp1abc' } }, { regionId: 'cn-shanghai', routeTableId: 'vtb-bp1abc' })).toBe(
      'aliyun vpc CreateRouteEntry --RegionId cn-shanghai --RouteTableId vtb-bp1abc --DestinationCidrBlock 10.244.0.0/16 --NextHopType RouterInterface --NextHopId ri-bp1abc --RouteEntryName knit-external-pods',
    );
  });

  it('a next hop of an unknown type is bad input naming the field', () => {
    const text = caseText('terway-hybrid-flannel.yaml').replace('hybrid: { externalPlugin: flannel }', 'hybrid: { externalPlugin: flannel, nextHop: { type: Internet, id: vpn-bp1abc } }');
    expect(() => specOf(text)).toThrow(/network\.hybrid\.nextHop\.type/);
  });
});

describe('hybridRouteCheck (pure)', () => {
  const system = { routeTableId: 'vtb-sys', routeTableType: 'System', vSwitchIds: ['vsw-node', 'vsw-pod'] };
  const custom = { routeTableId: 'vtb-pods', routeTableType: 'Custom', vSwitchIds: ['vsw-pod'] };
  const toVpn = { destinationCidr: '10.244.0.0/16', type: 'Custom', status: 'Available', nextHops: [{ type: 'VpnGateway', id: 'vpn-1' }] };
  const facts = (over: Partial<HybridRouteFacts> = {}): HybridRouteFacts => ({
    regionId: 'cn-hangzhou',
    vpcId: 'vpc-1',
    route: { destinationCidr: '10.244.0.0/16', nextHop: { type: 'VpnGateway', id: 'vpn-1' } },
    vswitchIds: ['vsw-node', 'vsw-pod'],
    tables: [{ ...system, entries: [toVpn] }],
    ...over,
  });

  it('passes with an entry for podSubnet through the named next hop', () => {
    expect(hybridRouteCheck(facts())).toMatchObject({ id: 'alicloud/hybrid-route', status: 'pass' });
  });

  it('a covering entry (10.0.0.0/8 to the VPN) counts', () => {
    expect(hybridRouteCheck(facts({ tables: [{ ...system, entries: [{ ...toVpn, destinationCidr: '10.0.0.0/8' }] }] })).status).toBe('pass');
  });

  it('missing: warns with the exact command for the table', () => {
    const r = hybridRouteCheck(facts({ tables: [{ ...system, entries: [{ ...toVpn, destinationCidr: '10.244.0.0/24' }] }] }));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain('aliyun vpc CreateRouteEntry --RegionId cn-hangzhou --RouteTableId vtb-sys --DestinationCidrBlock 10.244.0.0/16 --NextHopType VpnGateway --NextHopId vpn-1 --RouteEntryName knit-external-pods');
  });

  it('the default route to the NAT gateway is no route to the external pods, with or without a next hop in the spec', () => {
    const natDefault = { destinationCidr: '0.0.0.0/0', type: 'Custom', status: 'Available', nextHops: [{ type: 'NatGateway', id: 'ngw-1' }] };
    for (const route of [facts().route, { destinationCidr: '10.244.0.0/16' }]) {
      const r = hybridRouteCheck(facts({ route, tables: [{ ...system, entries: [natDefault] }] }));
      expect(r.status).toBe('warn');
      expect(r.reason).toContain('(vtb-sys sends it along 0.0.0.0/0 to NatGateway ngw-1)');
      expect(r.reason).toContain('aliyun vpc CreateRouteEntry --RegionId cn-hangzhou --RouteTableId vtb-sys --DestinationCidrBlock 10.244.0.0/16');
    }
    // the most specific entry decides: podSubnet to the VPN beside the default route
    expect(hybridRouteCheck(facts({ tables: [{ ...system, entries: [natDefault, toVpn] }] })).status).toBe('pass');
  });

  it('a podSubnet inside a vSwitch CIDR cannot be routed: said, instead of a command that would fail', () => {
    const vswitchRoute = { destinationCidr: '10.244.8.0/24', type: 'System', status: 'Available', nextHops: [] };
    const r = hybridRouteCheck(facts({ tables: [{ ...system, entries: [vswitchRoute] }] }));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain("kubernetes.podSubnet 10.244.0.0/16 overlaps the VPC's own route 10.244.8.0/24 in vpc-1");
    expect(r.reason).not.toContain('CreateRouteEntry');
  });

  it('a vSwitch bound to a custom table needs the entry there too', () => {
    const r = hybridRouteCheck(facts({ tables: [{ ...system, entries: [toVpn] }, { ...custom, entries: [] }] }));
    expect(r.status).toBe('warn');
    expect(r.reason).toContain('--RouteTableId vtb-pods');
    expect(r.reason).not.toContain('--RouteTableId vtb-sys');
    expect(routeTablesServing(['vsw-node', 'vsw-pod'], [system, custom]).map((s) => [s.table.routeTableId, s.vswitchIds])).toEqual([['vtb-sys', ['vsw-node']], ['vtb-pods', ['vsw-pod']]]);
  });

  it('an entry to another next hop than the spec names warns', () => {
    const r = hybridRouteCheck(facts({ tables: [{ ...system, entries: [{ ...toVpn, nextHops: [{ type: 'Instance', id: 'i-gw' }] }] }] }));
    expect(r).toMatchObject({ status: 'warn' });
    expect(r.reason).toContain('Instance i-gw, not to network.hybrid.nextHop VpnGateway vpn-1');
  });

  it('without a next hop in the spec, any entry passes and a missing one gets placeholders for it', () => {
    const route = { destinationCidr: '10.244.0.0/16' };
    expect(hybridRouteCheck(facts({ route, tables: [{ ...system, entries: [{ ...toVpn, nextHops: [{ type: 'Instance', id: 'i-gw' }] }] }] })).status).toBe('pass');
    const r = hybridRouteCheck(facts({ route, tables: [{ ...system, entries: [] }] }));
    expect(r.reason).toContain('--NextHopType <NEXT_HOP_TYPE> --NextHopId <NEXT_HOP_ID>');
  });
});

describe('doctor: hybrid findings', () => {
  const { spec } = hybridCase();
  const base = (over: Partial<DoctorFacts>): DoctorFacts => ({
    spec,
    node: 'cp-1',
    host: [],
    crossVpc: { drift: { table: 'missing', missing: [], unexpected: [] }, rulesFile: 'missing' },
    cluster: {
      nodes: [
        { name: 'cp-1', ready: true, annotations: {}, labels: {}, allocatablePods: 51 },
        { name: 'idc-worker-1', ready: true, annotations: {}, labels: { 'alibabacloud.com/external': 'true' }, allocatablePods: 110 },
      ],
      pods: [{ namespace: 'kube-system', name: 'coredns-7c65d6cfc9-x2x4l', node: 'cp-1', phase: 'Running', ready: true, hostNetwork: false, owner: 'coredns' }],
    },
    ...over,
  });

  it('CoreDNS on the VPC side is fine; a replica on an external node warns with the patch', () => {
    expect(diagnose(base({})).find((f) => f.id === 'hybrid/system-placement')).toMatchObject({ status: 'ok' });
    const cluster = base({}).cluster as Exclude<DoctorFacts['cluster'], { error: string }>;
    const stray = { ...cluster, pods: [...cluster.pods, { namespace: 'kube-system', name: 'coredns-7c65d6cfc9-q8z7k', node: 'idc-worker-1', phase: 'Running', ready: true, hostNetwork: false, owner: 'coredns' }] };
    const f = diagnose(base({ cluster: stray })).find((x) => x.id === 'hybrid/system-placement')!;
    expect(f.status).toBe('warn');
    expect(f.message).toContain('coredns-7c65d6cfc9-q8z7k on idc-worker-1');
    expect(f.fix).toBe(`kubectl -n kube-system patch deployment coredns --type strategic --patch '${vpcSidePlacementPatch()}'`);
  });

  it('on the host network a CoreDNS pod is reachable at its node\'s IP; terway-controlplane is misplaced there all the same', () => {
    const cluster = base({}).cluster as Exclude<DoctorFacts['cluster'], { error: string }>;
    const onExternal = (owner: string) => ({ namespace: 'kube-system', name: `${owner}-5d8f7c9b7-abcde`, node: 'idc-worker-1', phase: 'Running', ready: true, hostNetwork: true, owner });
    const placement = (owner: string) => diagnose(base({ cluster: { ...cluster, pods: [onExternal(owner)] } })).find((x) => x.id === 'hybrid/system-placement')!;
    expect(placement('coredns').status).toBe('ok');
    expect(placement('terway-controlplane')).toMatchObject({ status: 'warn', message: expect.stringContaining('terway-controlplane-5d8f7c9b7-abcde on idc-worker-1') });
  });

  it('the route: ok, warn, or skipped with the reason', () => {
    const route = (hybridRoute: DoctorFacts['hybridRoute']) => diagnose(base(hybridRoute ? { hybridRoute } : {})).find((f) => f.id === 'hybrid/vpc-route');
    expect(route({ id: 'alicloud/hybrid-route', status: 'pass', reason: 'routed' })).toMatchObject({ status: 'ok', message: 'routed' });
    expect(route({ id: 'alicloud/hybrid-route', status: 'warn', reason: 'add it' })).toMatchObject({ status: 'warn', message: 'add it' });
    expect(route({ error: 'not asked: no credentials' })).toMatchObject({ status: 'skip', message: 'not asked: no credentials' });
  });

  it('a cluster that is not hybrid gets no hybrid finding', () => {
    const flannel = specOf(caseText('cross-vpc-flannel.yaml')).spec;
    expect(diagnose(base({ spec: flannel, node: 'master-1' })).filter((f) => f.id.startsWith('hybrid/'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Against the ECS/VPC stand-in

const require = createRequire(import.meta.url);
const vpcSdk = require('@alicloud/vpc20160428') as typeof import('@alicloud/vpc20160428');
const openApi = require('@alicloud/openapi-core') as typeof import('@alicloud/openapi-core');

let cloud: StandIn;
let home: string;
beforeEach(async () => {
  cloud = await startAlicloudStandIn(defaultWorld());
  home = await mkdtemp(join(tmpdir(), 'knit-home-'));
});
afterEach(() => cloud.close());

const vpc = () =>
  new vpcSdk.default(
    new openApi.$OpenApiUtil.Config({ accessKeyId: KEYS.full.id, accessKeySecret: KEYS.full.secret, endpoint: cloud.endpoint, protocol: 'http', regionId: 'cn-hangzhou', connectTimeout: 1000, readTimeout: 2000 }),
  );

/** The route the operator adds for the hybrid spec: podSubnet to the VPN gateway, in the System table. */
const addRoute = (world: StandIn['world'], nextHopId: string = IDS.vpnGateway) =>
  world.routeEntries.push({
    routeEntryId: 'rte-bp1knitexternalpods01',
    routeEntryName: 'knit-external-pods',
    routeTableId: IDS.systemRouteTable,
    destinationCidrBlock: '10.244.0.0/16',
    type: 'Custom',
    status: 'Available',
    nextHops: [{ nextHopType: 'VpnGateway', nextHopId }],
    description: '',
  });

describe('stand-in: route tables and entries in the SDK models', () => {
  it('DescribeRouteTableList: the System table with its vSwitches', async () => {
    const res = await vpc().describeRouteTableList(new vpcSdk.DescribeRouteTableListRequest({ regionId: 'cn-hangzhou', vpcId: IDS.vpc, pageSize: 50 }));
    const [table, ...rest] = res.body!.routerTableList!.routerTableListType!;
    expect(rest).toEqual([]);
    expect(res.body!.totalCount).toBe(1);
    expect(table).toMatchObject({ routeTableId: IDS.systemRouteTable, routeTableType: 'System', routerType: 'VRouter', vpcId: IDS.vpc });
    expect(table!.vSwitchIds!.vSwitchId).toContain(IDS.podVSwitchH);
  });

  it('DescribeRouteEntryList: next hops per entry, MaxResult pages with NextToken', async () => {
    addRoute(cloud.world);
    const client = vpc();
    const first = await client.describeRouteEntryList(new vpcSdk.DescribeRouteEntryListRequest({ regionId: 'cn-hangzhou', routeTableId: IDS.systemRouteTable, maxResult: 5 }));
    expect(first.body!.routeEntrys!.routeEntry).toHaveLength(5);
    expect(first.body!.nextToken).not.toBe('');
    const second = await client.describeRouteEntryList(new vpcSdk.DescribeRouteEntryListRequest({ regionId: 'cn-hangzhou', routeTableId: IDS.systemRouteTable, maxResult: 5, nextToken: first.body!.nextToken }));
    expect(second.body!.nextToken).toBe('');
    const all = [...first.body!.routeEntrys!.routeEntry!, ...second.body!.routeEntrys!.routeEntry!];
    const ours = all.find((e) => e.destinationCidrBlock === '10.244.0.0/16')!;
    expect(ours).toMatchObject({ type: 'Custom', status: 'Available', routeEntryName: 'knit-external-pods' });
    expect(ours.nextHops!.nextHop!.map((h) => [h.nextHopType, h.nextHopId])).toEqual([['VpnGateway', IDS.vpnGateway]]);
    expect(all.find((e) => e.destinationCidrBlock === '0.0.0.0/0')!.nextHops!.nextHop![0]).toMatchObject({ nextHopType: 'NatGateway', nextHopId: IDS.natGateway });
  });
});

const hybridSpecFile = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'knit-hybrid-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, [
    'kubernetes: { version: "1.34.2", controlPlaneEndpoint: "192.168.0.10", podSubnet: 10.244.0.0/16 }',
    'network:',
    '  plugin: terway',
    `  terway: { vswitches: { cn-hangzhou-h: [${IDS.podVSwitchH}] } }`,
    `  hybrid: { externalPlugin: flannel, nextHop: { type: VpnGateway, id: ${IDS.vpnGateway} } }`,
    'nodes:',
    '  - { name: master-1, role: control-plane, privateIP: 192.168.0.10, vpc: corp }',
    '  - { name: idc-worker-1, role: worker, privateIP: 10.10.0.31, vpc: corp, external: true }',
    '',
  ].join('\n'));
  return file;
};

type Findings = { findings: { id: string; status: string; message: string }[] };
const NO_KEY = { ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '', ALIBABA_CLOUD_SECURITY_TOKEN: '', ALIBABA_CLOUD_CREDENTIALS_URI: '' };
const doctorOnEcs = async (env: Record<string, string>) => {
  const r = await knit(['doctor', '-f', await hybridSpecFile(), '--node-name', 'master-1', '--kubeconfig', '/nonexistent', '-o', 'json'], {
    env: { HOME: home, KNIT_ECS_METADATA_URL: cloud.metadataUrl, KNIT_ALICLOUD_ENDPOINT: cloud.url, KNIT_ALICLOUD_TIMEOUT_MS: '500', ...NO_KEY, ...env },
  });
  const parsed = JSON.parse(r.stdout) as Findings;
  return { r, route: parsed.findings.find((f) => f.id === 'hybrid/vpc-route')! };
};
const FULL_KEY = { ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.full.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.full.secret };
const routeCalls = () => cloud.requests.flatMap((r) => (r.kind === 'openapi' && r.action.startsWith('DescribeRoute') ? [r.action] : []));

describe('knit doctor against the stand-in: the route to the external pods', () => {
  it('missing: a warning with the exact CreateRouteEntry for the System table', async () => {
    const { r, route } = await doctorOnEcs(FULL_KEY);
    expect(route, r.stderr).toMatchObject({ status: 'warn' });
    expect(route.message).toContain(
      `aliyun vpc CreateRouteEntry --RegionId cn-hangzhou --RouteTableId ${IDS.systemRouteTable} --DestinationCidrBlock 10.244.0.0/16 --NextHopType VpnGateway --NextHopId ${IDS.vpnGateway} --RouteEntryName knit-external-pods`,
    );
    expect(routeCalls()).toEqual(['DescribeRouteTableList', 'DescribeRouteEntryList']);
    expect(`${r.stdout}${r.stderr}`).not.toContain(KEYS.full.secret);
  }, 30_000);

  it('present: ok, naming the table and the next hop', async () => {
    addRoute(cloud.world);
    const { r, route } = await doctorOnEcs(FULL_KEY);
    expect(route, r.stderr).toMatchObject({ status: 'ok' });
    expect(route.message).toContain(`${IDS.systemRouteTable} (System, for `);
    expect(route.message).toContain(`10.244.0.0/16 via VpnGateway ${IDS.vpnGateway}`);
  }, 30_000);

  it('to another VPN gateway than the spec names: a warning', async () => {
    addRoute(cloud.world, 'vpn-bp1someotherone0000001');
    const { route } = await doctorOnEcs(FULL_KEY);
    expect(route).toMatchObject({ status: 'warn' });
    expect(route.message).toContain('not to network.hybrid.nextHop VpnGateway');
  }, 30_000);

  it('credentials without the route tables\' read: skipped with the reason and the command', async () => {
    cloud.world.accessKeys.find((k) => k.accessKeyId === KEYS.limited.id)!.deny = ['DescribeRouteTableList'];
    const { route } = await doctorOnEcs({ ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.limited.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.limited.secret });
    expect(route).toMatchObject({ status: 'skip' });
    expect(route.message).toContain('vpc:DescribeRouteTableList');
    expect(route.message).toContain('aliyun vpc CreateRouteEntry --RegionId cn-hangzhou --RouteTableId <ROUTE_TABLE_ID>');
  }, 30_000);

  it('no credentials at all (no key, no instance RAM role): skipped with the reason and the command', async () => {
    delete cloud.world.instances.find((i) => i.instanceId === IDS.master)!.ramRoleName;
    const { r, route } = await doctorOnEcs({});
    expect(route, r.stderr).toMatchObject({ status: 'skip' });
    expect(route.message).toContain('no Alibaba Cloud credentials found');
    expect(route.message).toContain(`--NextHopType VpnGateway --NextHopId ${IDS.vpnGateway}`);
    expect(routeCalls()).toEqual([]);
  }, 30_000);

  it('off ECS: skipped, nothing asked', async () => {
    const r = await knit(['doctor', '-f', await hybridSpecFile(), '--node-name', 'master-1', '--kubeconfig', '/nonexistent', '-o', 'json'], {
      env: { HOME: home, KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/', KNIT_ALICLOUD_ENDPOINT: cloud.url, ...FULL_KEY },
    });
    const route = (JSON.parse(r.stdout) as Findings).findings.find((f) => f.id === 'hybrid/vpc-route')!;
    expect(route).toMatchObject({ status: 'skip' });
    expect(route.message).toContain('not an ECS instance');
    expect(routeCalls()).toEqual([]);
  }, 30_000);
});
