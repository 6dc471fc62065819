/**
 * Every document knit renders for the CNI phase passes the Kubernetes schema of its apiVersion/kind
 * (kubernetes-models, through knit's own validator in src/cni/validate.ts, the one `init` runs). An
 * apiVersion/kind without a schema fails, so a new kind cannot slip through unvalidated. Calico's custom
 * resources (BGPConfiguration, BGPPeer) have no Kubernetes schema: they are checked against the
 * openAPIV3Schema of their CRD in upstream's calico.yaml (knit's own CRDs keep every field, so the
 * apiserver would accept anything), and skip when /work/shared/upstream is not there.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkManifest, checkObjects, SCHEMA_KINDS, SCHEMA_KUBERNETES_VERSION, validateObjects } from '../src/cni/validate.js';
import { Ajv, type Options as AjvOptions, type ValidateFunction } from 'ajv'; // transitive (kubernetes-models → @kubernetes-models/validate)
import { describe, expect, it } from 'vitest';
import { skipUnless } from './helpers/skip.js';
import { parseAllDocuments } from 'yaml';
import { renderCni } from '../src/cni/index.js';
import type { AccessKey } from '../src/cni/types.js';
import { readTemplate } from '../src/host/templates.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---------------------------------------------------------------------------------------------
// Validators
// ---------------------------------------------------------------------------------------------

/** Calico custom resources knit renders; validated against upstream's CRD schema, not kubernetes-models. */
const CALICO_CR_API = 'crd.projectcalico.org/v1';
const CALICO_CR_KINDS = ['BGPConfiguration', 'BGPPeer'];
const isCalicoCr = (o: Obj): boolean => o.apiVersion === CALICO_CR_API && CALICO_CR_KINDS.includes(o.kind);

// ../shared/upstream beside the checkout; KNIT_UPSTREAM_DIR points elsewhere (e.g. a missing path, to see the skips)
const UPSTREAM = process.env.KNIT_UPSTREAM_DIR ?? resolve(import.meta.dirname, '../../shared/upstream');
const UPSTREAM_CALICO = join(UPSTREAM, 'calico/calico.yaml');
const HAS_UPSTREAM = existsSync(UPSTREAM_CALICO);
const UPSTREAM_SUPPORT = { ok: HAS_UPSTREAM, reason: `${UPSTREAM_CALICO} is missing (no upstream CRD schemas to validate against)` };

const label = (o: Obj): string => `${o.kind ?? '?'} ${o.metadata?.name ?? '?'}`;

/** Problems of the Kubernetes-kind documents (knit's own validator; Calico CRs are left to calicoCrProblems). */
async function kubernetesProblems(docs: Obj[]): Promise<string[]> {
  return (await validateObjects(docs, isCalicoCr)).map((p) => `${p.object}: ${p.message}`);
}

/**
 * CRD patterns are Go (RE2) regular expressions. Calico's start with `(?i)` (case-insensitive from there
 * on), which JavaScript spells as a flag; the rest of their syntax means the same in both.
 */
type RegExpEngine = NonNullable<NonNullable<AjvOptions['code']>['regExp']>;
const re2: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => (pattern.startsWith('^(?i)') || pattern.startsWith('(?i)') ? new RegExp(pattern.replace('(?i)', ''), `${flags}i`) : new RegExp(pattern, flags)),
  { code: 'new RegExp' },
);

let calicoValidators: Map<string, ValidateFunction> | undefined;
/** kind → a validator for the openAPIV3Schema of that kind's CRD in upstream calico.yaml (parsed once). */
function calicoCrdValidators(): Map<string, ValidateFunction> {
  if (calicoValidators) return calicoValidators;
  // strict: false tolerates the structural-schema extensions (x-kubernetes-*) and OpenAPI-only keywords;
  // no format checks: the apiserver checks formats of strings only, never int32/int64 ranges
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: re2 } });
  const validators = new Map<string, ValidateFunction>();
  for (const d of parseAllDocuments(readFileSync(UPSTREAM_CALICO, 'utf8'))) {
    const crd = d.toJS() as Obj | null;
    if (crd?.kind !== 'CustomResourceDefinition' || crd.spec.group !== 'crd.projectcalico.org') continue;
    const version = (crd.spec.versions as Obj[]).find((v) => v.storage) ?? crd.spec.versions[0];
    validators.set(crd.spec.names.kind, ajv.compile(version.schema.openAPIV3Schema));
  }
  return (calicoValidators = validators);
}

/** Problems of the Calico custom resources, against upstream's CRD schemas (needs /work/shared/upstream). */
function calicoCrProblems(docs: Obj[]): string[] {
  const problems: string[] = [];
  for (const o of docs.filter(isCalicoCr)) {
    const validate = calicoCrdValidators().get(o.kind);
    if (!validate) {
      problems.push(`${label(o)}: upstream calico.yaml has no CRD for kind ${o.kind}`);
      continue;
    }
    if (!validate(o)) problems.push(`${label(o)}: ${validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const FAKE_ACCESS_KEY: AccessKey = { accessKeyId: 'LTAI5tFAKEFAKEFAKEFAKE', accessKeySecret: 'fakeSecretfakeSecretfakeSecret' };

const docsOf = (yamls: string[]): Obj[] =>
  yamls.flatMap((y) => parseAllDocuments(y).map((d) => d.toJS() as Obj | null)).filter((o): o is Obj => o !== null);

type NetworkInput = NonNullable<SpecInput['network']>;
interface Combo {
  name: string;
  network: NetworkInput;
  extra?: Partial<SpecInput>;
  accessKey?: AccessKey;
}

const NODES: SpecInput['nodes'] = [
  { name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' },
  { name: 'worker-1', role: 'worker', privateIP: '10.0.0.21' },
];
const HYBRID_NODES: SpecInput['nodes'] = [...NODES, { name: 'idc-1', role: 'worker', privateIP: '10.10.0.31', external: true }];

function renderCombo(c: Combo): Obj[] {
  const input: SpecInput = { kubernetes: { controlPlaneEndpoint: '10.0.0.10' }, network: c.network, nodes: c.network.hybrid ? HYBRID_NODES : NODES, ...c.extra };
  const { spec } = loadSpec({ file: { name: `${c.name}.yaml`, text: JSON.stringify(input) }, hostname: 'cp-1' });
  return docsOf(renderCni({ spec, template: readTemplate, accessKey: c.accessKey }).applies.map((a) => a.yaml));
}

const terway = (t: NetworkInput['terway'], externalPlugin?: 'flannel' | 'calico'): NetworkInput => ({
  plugin: 'terway',
  terway: { vswitches: { 'cn-hangzhou-h': ['vsw-pods0h'] }, securityGroups: ['sg-cluster'], ...t },
  ...(externalPlugin ? { hybrid: { externalPlugin } } : {}),
});

/** Every plugin and mode, the credentials, hybrid clusters and image sources. */
const COMBOS: Combo[] = [
  { name: 'flannel vxlan', network: { plugin: 'flannel', flannel: { backend: 'vxlan', directRouting: true } } },
  { name: 'flannel host-gw', network: { plugin: 'flannel', flannel: { backend: 'host-gw' } } },
  { name: 'flannel wireguard', network: { plugin: 'flannel', flannel: { backend: 'wireguard' } } },
  { name: 'calico ipip', network: { plugin: 'calico', calico: { mode: 'ipip' } } },
  { name: 'calico crosssubnet', network: { plugin: 'calico', calico: { mode: 'crosssubnet', ipAutodetectionMethod: 'can-reach=10.0.0.1', mtu: 1400 } } },
  {
    name: 'calico bgp with route reflectors and peers',
    network: {
      plugin: 'calico',
      calico: { mode: 'bgp', asNumber: 64600, nodeToNodeMesh: false, routeReflectors: ['cp-1'], peers: [{ ip: '10.0.0.1', asNumber: 64500 }, { ip: '10.0.0.2', asNumber: 4200000000 }] },
    },
  },
  { name: 'calico vxlan', network: { plugin: 'calico', calico: { mode: 'vxlan' } } },
  { name: 'canal', network: { plugin: 'canal' } },
  { name: 'canal with port, vni and mtu', network: { plugin: 'canal', canal: { port: 4789, vni: 7, mtu: 1400 } }, extra: { mirror: 'cn' } },
  { name: 'terway eniip, network policy on', network: terway({ mode: 'eniip', networkPolicy: true }) },
  { name: 'terway eniip, network policy off', network: terway({ mode: 'eniip', networkPolicy: false }) },
  // exclusive ENI: terway-controlplane (Deployment, Service, webhooks, RBAC) and its CRDs; no NetworkPolicy engine
  { name: 'terway eni (terway-controlplane)', network: terway({ mode: 'eni' }), extra: { alicloud: { vpcId: 'vpc-test', region: 'cn-hangzhou' } } },
  { name: 'terway eni, access-key', network: terway({ mode: 'eni', networkPolicy: false, credentials: 'access-key' }), extra: { alicloud: { vpcId: 'vpc-test' } }, accessKey: FAKE_ACCESS_KEY },
  { name: 'terway eni hybrid, external calico', network: terway({ mode: 'eni' }, 'calico'), extra: { alicloud: { vpcId: 'vpc-test' } } },
  { name: 'terway credentials access-key (fake AccessKey Secret)', network: terway({ credentials: 'access-key' }), accessKey: FAKE_ACCESS_KEY },
  { name: 'terway hybrid, external flannel', network: terway({}, 'flannel') },
  { name: 'terway hybrid, external calico', network: terway({}, 'calico') },
  { name: 'mirror cn (calico bgp)', network: { plugin: 'calico', calico: { mode: 'bgp' } }, extra: { mirror: 'cn' } },
  { name: 'mirror cn (terway hybrid flannel)', network: terway({}, 'flannel'), extra: { mirror: 'cn' } },
  { name: 'imageRegistry (flannel)', network: { plugin: 'flannel' }, extra: { imageRegistry: 'registry.example.com:5000/mirror' } },
  { name: 'imageRegistry (terway with access-key)', network: terway({ credentials: 'access-key' }), extra: { imageRegistry: 'registry.example.com' }, accessKey: FAKE_ACCESS_KEY },
];

const casesDir = join(import.meta.dirname, 'cases');
const CASES = readdirSync(casesDir).filter((f) => f.endsWith('.yaml'));
function renderCase(file: string): Obj[] {
  const { spec } = loadSpec({ file: { name: file, text: readFileSync(join(casesDir, file), 'utf8') }, hostname: 'unused' });
  const accessKey = spec.network.terway.credentials === 'access-key' ? FAKE_ACCESS_KEY : undefined;
  return docsOf(renderCni({ spec, template: readTemplate, accessKey }).applies.map((a) => a.yaml));
}

/** Every rendering under test, by name (rendered once, shared by the Kubernetes and the Calico CR checks). */
const RENDERINGS: { name: string; docs: Obj[] }[] = [
  ...CASES.map((file) => ({ name: `test/cases/${file}`, docs: renderCase(file) })),
  ...COMBOS.map((c) => ({ name: c.name, docs: renderCombo(c) })),
];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('rendered CNI documents pass the Kubernetes schema of their apiVersion/kind (kubernetes-models)', () => {
  it.each(RENDERINGS.map((r) => [r.name, r.docs] as const))('%s: every Kubernetes document validates, no unknown kinds', async (_name, docs) => {
    expect(docs.length).toBeGreaterThan(0);
    expect(await kubernetesProblems(docs)).toEqual([]);
  });

  it('the renderings cover every kind in the schema map, the Secret and both Calico custom resources', () => {
    const kinds = new Set(RENDERINGS.flatMap((r) => r.docs.map((o) => `${o.apiVersion}/${o.kind}`)));
    // Namespace and Role come from flannel's and Terway's templates; Secret only with credentials: access-key
    for (const key of [...SCHEMA_KINDS, ...CALICO_CR_KINDS.map((k) => `${CALICO_CR_API}/${k}`)]) expect(kinds).toContain(key);
  });
});

describe('Calico custom resources match the openAPIV3Schema of their CRD in upstream calico.yaml', () => {
  const withCrs = RENDERINGS.filter((r) => r.docs.some(isCalicoCr));

  it('some renderings have Calico custom resources to check (BIRD modes)', () => {
    expect(withCrs.map((r) => r.name)).toEqual(expect.arrayContaining(['calico ipip', 'calico bgp with route reflectors and peers', 'terway hybrid, external calico']));
  });

  it.each(withCrs.map((r) => [r.name, r.docs] as const))(`%s: BGPConfiguration/BGPPeer validate against upstream's CRD schemas`, skipUnless(UPSTREAM_SUPPORT), (_name, docs) => {
    expect(calicoCrProblems(docs)).toEqual([]);
  });
});

describe('the validators catch broken documents (the suite can fail)', () => {
  const flannel = renderCombo({ name: 'flannel', network: { plugin: 'flannel' } });

  it('a DaemonSet whose containerPort is a string fails kubernetes-models validation', async () => {
    const broken = structuredClone(flannel);
    const ds = broken.find((o) => o.kind === 'DaemonSet')!;
    ds.spec.template.spec.containers[0].ports[0].containerPort = '8081';
    expect(await kubernetesProblems(flannel)).toEqual([]);
    expect(await kubernetesProblems(broken)).toEqual(['DaemonSet kube-flannel-ds: spec.template.spec.containers[0].ports[0].containerPort must be integer']);
  });

  it('names every failing field of an object, a missing one as required, with the field apart', async () => {
    const broken = structuredClone(flannel);
    const ds = broken.find((o) => o.kind === 'DaemonSet')!;
    delete ds.spec.selector;
    ds.spec.template.spec.containers[0].image = 5;
    expect(await validateObjects(broken)).toEqual([
      { object: 'DaemonSet kube-flannel-ds', field: 'spec.selector', message: 'spec.selector is required' },
      { object: 'DaemonSet kube-flannel-ds', field: 'spec.template.spec.containers[0].image', message: 'spec.template.spec.containers[0].image must be string' },
    ]);
  });

  it('counts what it checked: Kubernetes objects, and custom resources left to their CRDs', async () => {
    const bgp = RENDERINGS.find((r) => r.name === 'calico bgp with route reflectors and peers')!.docs;
    const check = await checkObjects(bgp);
    const crs = bgp.filter((o) => o.apiVersion.startsWith('crd.projectcalico.org/')).length;
    expect(crs).toBeGreaterThan(0);
    expect(check).toEqual({ checked: bgp.length - crs, customResources: crs, kubernetesVersion: SCHEMA_KUBERNETES_VERSION, problems: [] });
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\ndata: { x: 1 }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: b }\n';
    expect(await checkManifest(yaml)).toEqual({
      checked: 2,
      customResources: 0,
      kubernetesVersion: SCHEMA_KUBERNETES_VERSION,
      problems: [{ object: 'ConfigMap a', field: 'data.x', message: 'data.x must be string' }],
    });
  });

  it(`the schemas are Kubernetes ${SCHEMA_KUBERNETES_VERSION}'s, as knit says: a field new in 1.33 is checked, one new in 1.34 is unknown`, async () => {
    const pod = (spec: Obj) => [{ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd' }, spec: {
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } },
    } }];
    expect(SCHEMA_KUBERNETES_VERSION).toBe('1.33');
    // Lifecycle.stopSignal (1.33): typed, so a number fails
    const stop = pod({ containers: [{ name: 'c', image: 'i', lifecycle: { stopSignal: 15 } }] });
    expect(await validateObjects(stop)).toEqual([expect.objectContaining({ field: 'spec.template.spec.containers[0].lifecycle.stopSignal' })]);
    // PodSpec.hostnameOverride (1.34): not in these schemas, so anything passes
    expect(await validateObjects(pod({ hostnameOverride: 15 }))).toEqual([]);
  });

  it('an apiVersion/kind without a schema fails, even in a known group', async () => {
    const unknown = [
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
      { apiVersion: 'apps/v1beta1', kind: 'DaemonSet', metadata: { name: 'old' } },
      { apiVersion: CALICO_CR_API, kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } },
    ];
    expect(await kubernetesProblems(unknown)).toEqual([
      'Widget w: knit has no schema for example.com/v1/Widget',
      'DaemonSet old: knit has no schema for apps/v1beta1/DaemonSet',
      'IPPool default-ipv4-ippool: knit has no schema for crd.projectcalico.org/v1/IPPool',
    ]);
  });

  it(`a BGPPeer whose asNumber is a string fails its upstream CRD schema`, skipUnless(UPSTREAM_SUPPORT), () => {
    const peer = { apiVersion: CALICO_CR_API, kind: 'BGPPeer', metadata: { name: 'p' }, spec: { peerIP: '10.0.0.1', asNumber: '64500' } };
    expect(calicoCrProblems([peer])).toEqual([expect.stringMatching(/^BGPPeer p: \/spec\/asNumber must be integer/)]);
  });

  it(`a BGPConfiguration whose nodeToNodeMeshEnabled is a string fails its upstream CRD schema`, skipUnless(UPSTREAM_SUPPORT), () => {
    const config = { apiVersion: CALICO_CR_API, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: 'false', asNumber: 64512 } };
    expect(calicoCrProblems([config])).toEqual([expect.stringMatching(/^BGPConfiguration default: \/spec\/nodeToNodeMeshEnabled must be boolean/)]);
  });

  it(`upstream calico.yaml has a CRD schema for every Calico kind knit renders`, skipUnless(UPSTREAM_SUPPORT), () => {
    for (const kind of CALICO_CR_KINDS) expect(calicoCrdValidators().has(kind)).toBe(true);
  });
});
