/**
 * Terway's exclusive ENI mode (network.terway.mode eni): what nodes labelled eniOnly need besides the
 * DaemonSet — terway-controlplane, its CRDs and webhooks — rendered from knit's templates and compared
 * with the upstream chart (../shared/upstream/terway/chart, rendered here by a small Helm stand-in
 * that fails on anything it does not know), and the bad inputs the mode refuses.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderCni, type RenderedCni } from '../src/cni/index.js';
import { terwayClusterId } from '../src/cni/terway/plugin.js';
import type { AccessKey } from '../src/cni/types.js';
import { withTerwayFacts, type TerwayCloud } from '../src/command-support/alicloud-facts.js';
import { UsageError } from '../src/errors.js';
import { readTemplate } from '../src/host/templates.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';
import { MASK, secretForms } from '../src/ui/redact.js';
import { knit } from './helpers/knit.js';
import { skipUnless } from './helpers/skip.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NODES: SpecInput['nodes'] = [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' }];
const ENI = { plugin: 'terway' as const, terway: { mode: 'eni' as const, vswitches: { 'cn-hangzhou-h': ['vsw-pods0h'] }, securityGroups: ['sg-cluster'] } };
const VPC = { alicloud: { vpcId: 'vpc-bp1cluster' } };

const spec = (network: SpecInput['network'], extra: Partial<SpecInput> = VPC) =>
  loadSpec({ file: { name: 'spec.yaml', text: JSON.stringify({ kubernetes: { controlPlaneEndpoint: '10.0.0.10' }, network, nodes: NODES, ...extra }) }, hostname: 'cp-1' }).spec;
const render = (network: SpecInput['network'] = ENI, extra: Partial<SpecInput> = VPC, accessKey?: AccessKey) =>
  renderCni({ spec: spec(network, extra), template: readTemplate, ...(accessKey ? { accessKey } : {}) });

const objects = (r: RenderedCni): Obj[] => r.applies.flatMap((a) => parseAllDocuments(a.yaml).map((d) => d.toJS() as Obj));
const find = (docs: Obj[], kind: string, name: string): Obj => {
  const o = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const ctrlConfig = (docs: Obj[]): Obj => parse(find(docs, 'ConfigMap', 'terway-controlplane').data['ctrl-config.yaml']) as Obj;

// ---------------------------------------------------------------------------------------------
// What knit renders for mode eni
// ---------------------------------------------------------------------------------------------

describe('terway mode eni: terway-controlplane and its CRDs', () => {
  const r = render();
  const docs = objects(r);

  it("applies Terway's five network.alibabacloud.com CRDs first, stamped with the versions terway-controlplane v1.16.7 would write", () => {
    expect(r.applies.map((a) => a.name)).toEqual(['cni-crds', 'cni']);
    expect(r.applies[0]!.crds.sort()).toEqual(
      ['networkinterfaces', 'noderuntimes', 'nodes', 'podenis', 'podnetworkings'].map((p) => `${p}.network.alibabacloud.com`),
    );
    // pkg/apis/crds/register.go: an older or missing annotation makes the controlplane rewrite the CRD
    const versions = Object.fromEntries(
      parseAllDocuments(r.applies[0]!.yaml).map((d) => [d.toJS().spec.names.plural, d.toJS().metadata.annotations['crd.network.alibabacloud.com/version']]),
    );
    expect(versions).toEqual({ podenis: 'v0.4.2', podnetworkings: 'v0.1.0', nodes: 'v0.8.0', noderuntimes: 'v0.1.0', networkinterfaces: 'v0.1.0' });
    // no Calico CRDs: no NetworkPolicy engine in this mode
    expect(r.applies[0]!.crds.some((n) => n.endsWith('.crd.projectcalico.org'))).toBe(false);
  });

  it('renders the Deployment, its Service, both webhooks, RBAC, ConfigMap and credential Secret, and waits for the Deployment', () => {
    const ids = docs.filter((o) => o.metadata.name.startsWith('terway-controlplane')).map((o) => `${o.kind} ${o.metadata.name}`);
    expect(ids.sort()).toEqual(
      [
        'ClusterRole terway-controlplane',
        'ClusterRoleBinding terway-controlplane',
        'ConfigMap terway-controlplane',
        'Deployment terway-controlplane',
        'MutatingWebhookConfiguration terway-controlplane',
        'Role terway-controlplane',
        'RoleBinding terway-controlplane',
        'Secret terway-controlplane-credential',
        'Service terway-controlplane',
        'ServiceAccount terway-controlplane',
        'ValidatingWebhookConfiguration terway-controlplane',
      ].sort(),
    );
    expect(r.rollouts).toEqual([
      { kind: 'daemonset', namespace: 'kube-system', name: 'terway-eniip' },
      { kind: 'deployment', namespace: 'kube-system', name: 'terway-controlplane' },
    ]);
    expect(r.images()).toContain('registry-cn-hangzhou.ack.aliyuncs.com/acs/terway-controlplane:v1.16.7');
  });

  it('leaves the webhook certificate to terway-controlplane: no caBundle, the Service selects the pods on the webhook port', () => {
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'])
      for (const hook of find(docs, kind, 'terway-controlplane').webhooks as Obj[]) {
        expect(hook.clientConfig).not.toHaveProperty('caBundle');
        expect(hook.clientConfig.service).toMatchObject({ namespace: 'kube-system', name: 'terway-controlplane' });
      }
    // it creates this Secret itself, and may read and update only it
    expect(docs.some((o) => o.kind === 'Secret' && o.metadata.name === 'terway-controlplane-webhook-cert')).toBe(false);
    expect(find(docs, 'Role', 'terway-controlplane').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update', 'patch', 'watch'], resourceNames: ['terway-controlplane-webhook-cert'] });
    const svc = find(docs, 'Service', 'terway-controlplane');
    const pod = find(docs, 'Deployment', 'terway-controlplane').spec.template;
    expect(Object.entries(svc.spec.selector).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(true);
    expect(svc.spec.ports).toEqual([{ port: 443, targetPort: 4443, protocol: 'TCP', name: 'https' }]);
    expect(ctrlConfig(docs).webhookPort).toBe(4443);
  });

  it('ctrl-config.yaml: the VPC, a stable cluster id, the region (or the metadata service), no centralized IPAM', () => {
    const c = ctrlConfig(docs);
    expect(c).toMatchObject({ vpcID: 'vpc-bp1cluster', regionID: '', clusterID: terwayClusterId(spec(ENI)), centralizedIPAM: false, enableTrunk: false });
    expect(c.clusterID).toMatch(/^knit-[0-9a-f]{12}$/);
    expect(c.controllers).toEqual(['pod-eni', 'pod', 'pod-networking', 'node']);
    expect(c.clusterDomain).toBe('cluster.local');
    const withRegion = ctrlConfig(objects(render(ENI, { alicloud: { vpcId: 'vpc-bp1cluster', region: 'cn-beijing' } })));
    expect(withRegion.regionID).toBe('cn-beijing');
    // one id per cluster (its control plane endpoint), or the one the spec names
    const other = loadSpec({ file: { name: 's.yaml', text: JSON.stringify({ kubernetes: { controlPlaneEndpoint: '10.0.0.99' }, network: ENI, nodes: NODES, ...VPC }) }, hostname: 'cp-1' }).spec;
    expect(terwayClusterId(other)).not.toBe(c.clusterID);
    expect(ctrlConfig(objects(render({ ...ENI, terway: { ...ENI.terway, clusterId: 'prod-eu' } }))).clusterID).toBe('prod-eu');
  });

  it("eni_conf keeps what the controlplane reads for each PodENI (vSwitches, security groups) and no ipam_type", () => {
    const conf = JSON.parse(find(docs, 'ConfigMap', 'eni-config').data.eni_conf);
    expect(conf).toMatchObject({ vswitches: { 'cn-hangzhou-h': ['vsw-pods0h'] }, security_groups: ['sg-cluster'] });
    expect(conf).not.toHaveProperty('ipam_type');
  });

  it('runs no cilium-operator (the ebpf policy provider knit does not use)', () => {
    const d = find(docs, 'Deployment', 'terway-controlplane');
    expect(d.spec.template.spec.containers.map((c: Obj) => c.name)).toEqual(['terway-controlplane']);
    expect(d.spec.template.spec.affinity.nodeAffinity).toBeUndefined();
  });

  it('credentials: the RAM role leaves ctrl-secret.yaml empty; an AccessKey goes there (and to terwayd), never into a ConfigMap', () => {
    const empty = parse(find(docs, 'Secret', 'terway-controlplane-credential').stringData['ctrl-secret.yaml']);
    expect(empty).toMatchObject({ accessKey: '', accessSecret: '' });
    const key = { accessKeyId: 'LTAI5tExampleKeyId', accessKeySecret: 'not-a-real-secret-0123456789' };
    const withKey = objects(render({ ...ENI, terway: { ...ENI.terway, credentials: 'access-key' } }, VPC, key));
    expect(parse(find(withKey, 'Secret', 'terway-controlplane-credential').stringData['ctrl-secret.yaml'])).toMatchObject({ accessKey: key.accessKeyId, accessSecret: key.accessKeySecret });
    expect(find(withKey, 'Secret', 'alibaba-addon-secret').stringData['access-key-secret']).toBe(key.accessKeySecret);
    for (const cm of withKey.filter((o) => o.kind === 'ConfigMap')) expect(JSON.stringify(cm)).not.toContain(key.accessKeySecret);
  });

  it('hybrid clusters: the controlplane stays on ECS nodes (it needs the metadata service)', () => {
    const d = find(objects(render({ ...ENI, hybrid: { externalPlugin: 'calico' } })), 'Deployment', 'terway-controlplane');
    expect(d.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'alibabacloud.com/external', operator: 'NotIn', values: ['true'] }] },
    ]);
    // the podAntiAffinity of the chart stays
    expect(d.spec.template.spec.affinity.podAntiAffinity).toBeDefined();
  });

  it('eniip renders none of it', () => {
    const eniip = objects(render({ ...ENI, terway: { ...ENI.terway, mode: 'eniip' } }, {}));
    expect(eniip.filter((o) => o.metadata.name.startsWith('terway-controlplane'))).toEqual([]);
    expect(eniip.some((o) => o.kind === 'CustomResourceDefinition' && o.spec.group === 'network.alibabacloud.com')).toBe(false);
  });
});

describe('terway mode eni: NetworkPolicy and missing facts', () => {
  it('NetworkPolicy is off by default in exclusive ENI mode, and the plan says no engine enforces it', () => {
    const s = spec(ENI);
    expect(s.network.terway.networkPolicy).toBe(false);
    expect(spec({ ...ENI, terway: { ...ENI.terway, mode: 'eniip' } }).network.terway.networkPolicy).toBe(true);
    const r = render();
    expect(r.title).toBe('Terway exclusive ENI with terway-controlplane, no NetworkPolicy: exclusive ENI pods bypass the host, only their security groups filter (v1.16.7)');
    expect(find(objects(r), 'ConfigMap', 'eni-config').data.disable_network_policy).toBe('true');
  });

  it('networkPolicy: true with mode eni is refused, naming the field', () => {
    expect(() => spec({ ...ENI, terway: { ...ENI.terway, networkPolicy: true } })).toThrow(/network\.terway\.networkPolicy: exclusive ENI mode enforces no NetworkPolicy/);
  });

  it('without alicloud.vpcId the render stops with a usage error naming it', () => {
    const run = () => render(ENI, {});
    expect(run).toThrow(UsageError);
    expect(run).toThrow(/^alicloud\.vpcId: is required with network\.terway\.mode eni/);
    expect(() => spec(ENI, { alicloud: { vpcId: 'bp1cluster' } })).toThrow(/alicloud\.vpcId: must be a VPC id/);
  });

  it('knit render exits 2 naming alicloud.vpcId, and renders with it', async () => {
    const dir = join(import.meta.dirname, 'cases');
    const text = readFileSync(join(dir, 'terway-eni-policy.yaml'), 'utf8');
    const without = parse(text) as Obj;
    delete without.alicloud;
    const tmp = await mkdtemp(join(tmpdir(), 'knit-eni-'));
    await writeFile(join(tmp, 'no-vpc.yaml'), stringify(without));
    const missing = await knit(['render', '-f', join(tmp, 'no-vpc.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('alicloud.vpcId: is required with network.terway.mode eni');
    const ok = await knit(['render', '-f', join(dir, 'terway-eni-policy.yaml')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('kind: MutatingWebhookConfiguration');
  });
});

describe('terway mode eni: facts from ECS, and the AccessKey never printed', () => {
  it('on ECS, init and join take alicloud.vpcId from the ECS API when the spec has none (never over the spec)', () => {
    const cloud = { securityGroupIds: ['sg-fromecs'], facts: { regionId: 'cn-hangzhou', vpcId: 'vpc-fromecs', maxPods: { maxPods: 12 } } } as unknown as TerwayCloud;
    const filled = withTerwayFacts(spec(ENI, {}), 'cp-1', cloud);
    expect(filled.alicloud?.vpcId).toBe('vpc-fromecs');
    expect(ctrlConfig(objects(renderCni({ spec: filled, template: readTemplate }))).vpcID).toBe('vpc-fromecs');
    expect(withTerwayFacts(spec(ENI), 'cp-1', cloud).alicloud?.vpcId).toBe('vpc-bp1cluster');
  });

  it('knit render and init --dry-run with credentials access-key mask the secret in ctrl-secret.yaml too', async () => {
    const SECRET = 'kNiT"TeSt\\SeC/rEt-eni-0a1b2c3d';
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI5tKnitTestKeyId', ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET };
    const dir = await mkdtemp(join(tmpdir(), 'knit-eni-ak-'));
    const config = join(dir, 'cluster.yaml');
    await writeFile(config, JSON.stringify({ kubernetes: { controlPlaneEndpoint: '10.0.0.10' }, network: { ...ENI, terway: { ...ENI.terway, credentials: 'access-key' } }, nodes: NODES, ...VPC }));
    const runs = await Promise.all([knit(['render', '-f', config], { env }), knit(['-o', 'json', 'render', '-f', config], { env }), knit(['init', '-f', config, '--dry-run'], { env })]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      const out = `${r.stdout}${r.stderr}`;
      for (const form of [SECRET, ...secretForms(SECRET)]) expect(out, form).not.toContain(form);
    }
    expect(runs[0]!.stdout).toContain('terway-controlplane-credential');
    expect(runs[0]!.stdout).toMatch(new RegExp(`accessSecret: .*${MASK.replace(/\*/g, '\\*')}`));
  });
});

// ---------------------------------------------------------------------------------------------
// Against the upstream chart
// ---------------------------------------------------------------------------------------------

const UPSTREAM = process.env.KNIT_UPSTREAM_DIR ?? resolve(import.meta.dirname, '../../shared/upstream');
const CHART = join(UPSTREAM, 'terway/chart');
const HAS_CHART = existsSync(join(CHART, 'templates/terway-controlplane'));
const CHART_SUPPORT = { ok: HAS_CHART, reason: `${CHART} is missing (no upstream chart to compare with)` };

const lookup = (values: Obj, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Obj | undefined)?.[k], values);
const indent = (text: string, n: number): string[] => text.replace(/\n$/, '').split('\n').map((l) => `${' '.repeat(n)}${l}`);
const empty = (v: unknown): boolean => v === undefined || v === null || v === '' || v === false || (typeof v === 'object' && Object.keys(v as object).length === 0);

/**
 * What `helm template` makes of the chart's terway-controlplane templates (release "terway" in
 * kube-system), for the constructs they use: `include` of the two label helpers, `toYaml … | nindent`,
 * `with`/`if` blocks on values, `.Values`/`.Release`/`.Chart` lookups. Anything else throws.
 */
function helmTemplate(text: string, values: Obj, file: string): string {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
  const selector = { 'app.kubernetes.io/name': 'terway-controlplane', 'app.kubernetes.io/instance': 'terway' };
  const labels = { 'helm.sh/chart': `${chart.name}-${chart.version}`, ...selector, 'app.kubernetes.io/version': String(chart.appVersion), 'app.kubernetes.io/managed-by': 'Helm' };
  const out: string[] = [];
  const blocks: { keep: boolean; value: unknown }[] = [];
  const keeping = () => blocks.every((b) => b.keep);
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^\s*\{\{-?\s*(with|if)\s+\.Values\.([\w.]+)\s*-?\}\}\s*$/.exec(line))) {
      const value = lookup(values, m[2]!);
      blocks.push({ keep: !empty(value), value });
      continue;
    }
    if (/^\s*\{\{-?\s*end\s*-?\}\}\s*$/.test(line)) {
      if (!blocks.pop()) throw new Error(`${file}: unbalanced end`);
      continue;
    }
    if (!keeping()) continue;
    if ((m = /^\s*\{\{-?\s*include\s+"terway-controlplane\.(labels|selectorLabels)"\s+\.\s*\|\s*nindent\s+(\d+)\s*\}\}\s*$/.exec(line))) {
      out.push(...indent(stringify(m[1] === 'labels' ? labels : selector), Number(m[2])));
      continue;
    }
    if ((m = /^\s*\{\{-?\s*toYaml\s+(\.|\.Values\.[\w.]+)\s*\|\s*nindent\s+(\d+)\s*\}\}\s*$/.exec(line))) {
      const value = m[1] === '.' ? blocks.at(-1)?.value : lookup(values, m[1]!.slice('.Values.'.length));
      out.push(...indent(stringify(value), Number(m[2])));
      continue;
    }
    const substituted = line.replace(/\{\{-?\s*([^}]*?)\s*-?\}\}/g, (_, expr: string) => {
      const [head, ...pipes] = expr.split('|').map((p) => p.trim());
      let v: unknown;
      if (head === '.Release.Namespace') v = 'kube-system';
      else if (head === '.Chart.Name') v = chart.name;
      else if (head?.startsWith('.Values.')) v = lookup(values, head.slice('.Values.'.length));
      else throw new Error(`${file}: {{ ${expr} }} is more than this test's Helm stand-in handles`);
      for (const p of pipes) {
        if (p === 'default .Chart.AppVersion') v = empty(v) ? chart.appVersion : v;
        else if (p === 'quote') v = JSON.stringify(String(v));
        else throw new Error(`${file}: pipe ${p} is more than this test's Helm stand-in handles`);
      }
      // Helm prints a missing value as an empty string
      return v === undefined || v === null ? '' : String(v);
    });
    out.push(substituted);
  }
  if (blocks.length > 0) throw new Error(`${file}: unclosed block`);
  return out.join('\n');
}

function chartObjects(): Obj[] {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
  const dir = join(CHART, 'templates/terway-controlplane');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(helmTemplate(readFileSync(join(dir, f), 'utf8'), values, f)).map((d) => d.toJS() as Obj | null))
    .filter((o): o is Obj => o !== null)
    // Helm puts namespaced objects in the release namespace
    .map((o) => (['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(o.kind) ? o : { ...o, metadata: { namespace: 'kube-system', ...o.metadata } }));
}

const id = (o: Obj) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

describe('terway-controlplane against the chart (templates/terway-controlplane, default values)', () => {
  const knitDocs = objects(render()).filter((o) => o.metadata.name.startsWith('terway-controlplane'));
  const upstream = HAS_CHART ? chartObjects() : [];
  const pair = (kind: string, name: string) => [find(knitDocs, kind, name), find(upstream, kind, name)] as const;

  it('the same objects', skipUnless(CHART_SUPPORT), () => {
    expect(knitDocs.map(id).sort()).toEqual(upstream.map(id).sort());
  });

  it('the same RBAC rules, webhooks and Service; labels are the chart\'s less the Helm bookkeeping', skipUnless(CHART_SUPPORT), () => {
    for (const kind of ['ClusterRole', 'Role']) expect(pair(kind, 'terway-controlplane')[0].rules).toEqual(pair(kind, 'terway-controlplane')[1].rules);
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const [k, u] = pair(kind, 'terway-controlplane');
      expect([k.roleRef, k.subjects]).toEqual([u.roleRef, u.subjects]);
    }
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) expect(pair(kind, 'terway-controlplane')[0].webhooks).toEqual(pair(kind, 'terway-controlplane')[1].webhooks);
    expect(pair('Service', 'terway-controlplane')[0].spec).toEqual(pair('Service', 'terway-controlplane')[1].spec);
    for (const o of upstream) {
      const { 'helm.sh/chart': _c, 'app.kubernetes.io/managed-by': _m, ...rest } = (o.metadata.labels ?? {}) as Obj;
      expect(find(knitDocs, o.kind, o.metadata.name).metadata.labels ?? {}).toEqual(rest);
    }
  });

  it('the same Deployment, less the cilium-operator container (and the hybrid node affinity, not asked for here)', skipUnless(CHART_SUPPORT), () => {
    const [k, u] = pair('Deployment', 'terway-controlplane');
    const { containers: kc, ...kPod } = k.spec.template.spec;
    const { containers: uc, ...uPod } = u.spec.template.spec;
    expect(kPod).toEqual(uPod);
    expect(uc.map((c: Obj) => c.name)).toEqual(['terway-controlplane', 'cilium-operator']);
    expect(kc).toEqual(uc.slice(0, 1));
    expect([k.spec.selector, k.spec.replicas, k.spec.template.metadata]).toEqual([u.spec.selector, u.spec.replicas, u.spec.template.metadata]);
  });

  it('ctrl-config.yaml differs only where knit fills in the cluster; the credential Secret has the same keys', skipUnless(CHART_SUPPORT), () => {
    const [k, u] = pair('ConfigMap', 'terway-controlplane');
    const kc = parse(k.data['ctrl-config.yaml']) as Obj;
    const uc = parse(u.data['ctrl-config.yaml']) as Obj;
    // clusterDomain: kubernetes.dnsDomain (cluster.local, as in the chart, unless the spec says otherwise)
    const patched = ['regionID', 'clusterID', 'vpcID', 'clusterDomain', 'centralizedIPAM', 'controllers'];
    const drop = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([key]) => !patched.includes(key)));
    expect(drop(kc)).toEqual(drop(uc));
    expect(Object.keys(kc).sort()).toEqual(Object.keys(uc).sort());
    expect(k.data['cilium-config.yaml']).toBe(u.data['cilium-config.yaml']);
    expect(uc.controllers.filter((c: string) => !['multi-ip-node', 'multi-ip-pod'].includes(c))).toEqual(kc.controllers);
    const [ks, us] = pair('Secret', 'terway-controlplane-credential');
    expect(parse(ks.stringData['ctrl-secret.yaml'])).toEqual(parse(us.stringData['ctrl-secret.yaml']));
  });

  it('the CRDs are the chart\'s crds/ with the version annotation added', skipUnless(CHART_SUPPORT), () => {
    const crds = parseAllDocuments(render().applies[0]!.yaml).map((d) => d.toJS() as Obj);
    const dir = join(UPSTREAM, 'terway/crds');
    const chartCrds = readdirSync(dir).map((f) => parse(readFileSync(join(dir, f), 'utf8')) as Obj);
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(chartCrds.map((c) => c.metadata.name).sort());
    for (const c of chartCrds) {
      const mine = find(crds, 'CustomResourceDefinition', c.metadata.name);
      expect(mine.spec).toEqual(c.spec);
      const { 'crd.network.alibabacloud.com/version': _v, ...rest } = mine.metadata.annotations;
      expect(rest).toEqual(c.metadata.annotations);
    }
  });

  it("terwayd's policy container: the chart's capabilities outside its ebpf block, and no more", skipUnless(CHART_SUPPORT), () => {
    const text = readFileSync(join(CHART, 'templates/terwayd/daemonset.yaml'), 'utf8');
    const policy = text.slice(text.indexOf('- name: policy'));
    const addBlock = policy.slice(policy.indexOf('add:') + 'add:'.length, policy.indexOf('resources:'));
    // drop the lines between `{{- if … ebpf … }}` and its `{{- end }}`
    const outside = addBlock.replace(/\{\{-? if [^}]*ebpf[^}]*\}\}[\s\S]*?\{\{-? end \}\}/, '');
    const chartCaps = [...outside.matchAll(/- ([A-Z_]+)/g)].map((m) => m[1]);
    expect(addBlock).toMatch(/CHOWN/); // the block is there, and would be dropped
    const ds = find(objects(render()), 'DaemonSet', 'terway-eniip');
    const caps = ds.spec.template.spec.containers.find((c: Obj) => c.name === 'policy').securityContext.capabilities.add;
    expect(caps).toEqual(chartCaps);
    expect(caps).not.toEqual(expect.arrayContaining(['CHOWN']));
  });
});
