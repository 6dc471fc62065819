/**
 * knit's rendered CNI objects against the upstream release manifests its templates were written from
 * (templates/SOURCES.md): the objects, Calico's CRDs, RBAC rules, images, env vars, probes and
 * ConfigMap keys must match upstream, except for the deliberate differences in ALLOWED_DRIFT below.
 * A new difference fails, and so does an allowlist entry that no longer matches one.
 *
 * Upstream lives outside the repository (../shared/upstream). Its extracted facts are committed as
 * test/fixtures/upstream-cni/fingerprint.json, so the comparison runs everywhere:
 * - with ../shared/upstream: knit is compared with the live extraction, and the fixture must equal it
 *   (after an upstream bump: `UPDATE_UPSTREAM=1 npx vitest run … test/cni-conformance.test.ts`, review the diff);
 * - without it: knit is compared with the fixture, and the freshness check skips (named so in the output).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnless } from './helpers/skip.js';
import { parse, parseAllDocuments } from 'yaml';
import { renderCni } from '../src/cni/index.js';
import { readTemplate } from '../src/host/templates.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The upstream references knit is compared with, and the knit render each is compared against. */
const REFERENCES = {
  flannel: { label: 'flannel/kube-flannel.yml', files: ['flannel/kube-flannel.yml'], knit: { plugin: 'flannel' } },
  calico: { label: 'calico/calico.yaml', files: ['calico/calico.yaml'], knit: { plugin: 'calico', calico: { mode: 'ipip' } } },
  'calico-vxlan': { label: 'calico/calico-vxlan.yaml', files: ['calico/calico-vxlan.yaml'], knit: { plugin: 'calico', calico: { mode: 'vxlan' } } },
  canal: { label: 'calico/canal.yaml', files: ['calico/canal.yaml'], knit: { plugin: 'canal' } },
  // the chart's configmap.yaml is skipped: too templated (JSON built from values) for the minimal render below
  terway: {
    label: 'terway chart terwayd/{clusterrole,daemonset}.yaml',
    files: ['terway/chart/templates/terwayd/clusterrole.yaml', 'terway/chart/templates/terwayd/daemonset.yaml'],
    knit: { plugin: 'terway' },
  },
} satisfies Record<string, { label: string; files: string[]; knit: NonNullable<SpecInput['network']> }>;
type Reference = keyof typeof REFERENCES;

const CALICO_NODE = 'DaemonSet kube-system/calico-node container calico-node';
const CANAL_NODE = 'DaemonSet kube-system/canal container calico-node';

/**
 * Every deliberate difference, per reference: the drift line (as the comparison prints it; `*` matches
 * anything) → why knit differs. Anything else that differs is drift and fails.
 */
const ALLOWED_DRIFT: Record<Reference, Record<string, string>> = {
  flannel: {},
  calico: {
    'object BGPConfiguration default: only in knit':
      'knit writes network.calico.asNumber and nodeToNodeMesh into BGPConfiguration default (BIRD modes); upstream leaves Calico its defaults',
    [`env ${CALICO_NODE}: only knit has CALICO_IPV4POOL_CIDR`]:
      "commented out upstream; knit's template has it as an explicit entry and sets kubeadm's podSubnet, so the IP pool and kubeadm agree (templates/SOURCES.md)",
    [`env ${CALICO_NODE}: only knit has IP_AUTODETECTION_METHOD`]:
      "upstream relies on Calico's default (first-found); knit sets network.calico.ipAutodetectionMethod (default kubernetes-internal-ip)",
  },
  'calico-vxlan': {
    [`env ${CALICO_NODE}: only knit has CALICO_IPV4POOL_CIDR`]: "as for calico.yaml: knit sets kubeadm's podSubnet",
    [`env ${CALICO_NODE}: only knit has IP_AUTODETECTION_METHOD`]: 'as for calico.yaml: knit sets network.calico.ipAutodetectionMethod',
    [`env-value ${CALICO_NODE} CALICO_IPV4POOL_VXLAN: knit "Always", upstream "CrossSubnet"`]:
      "knit encapsulates all pod traffic: a cloud VPC forwards only addresses it has routes for, so CrossSubnet's unencapsulated pod traffic would be dropped (src/cni/calico/plugin.ts, MODES.vxlan)",
    [`env-value ${CALICO_NODE} CALICO_IPV6POOL_VXLAN: knit "Always", upstream "CrossSubnet"`]:
      'kept in step with the IPv4 pool (no IPv6 pool is created today: FELIX_IPV6SUPPORT is false)',
  },
  canal: {
    [`env ${CANAL_NODE}: only knit has FELIX_MTUIFACEPATTERN`]:
      "felix takes the host MTU from interfaces matching it; upstream's default (eth*, en*) gives pods the NIC's MTU over flannel's VXLAN, knit's ^flannel\\.1$ gives them flannel.1's (each node's interface MTU − 50)",
    [`env ${CANAL_NODE}: only knit has CALICO_IPV4POOL_CIDR`]:
      "commented out upstream (Calico's default pool 192.168.0.0/16, a common VPC range); knit sets kubeadm's podSubnet, so felix's natOutgoing pool is the pod network",
  },
  terway: {
    'object ServiceAccount kube-system/terway: only in knit': "from the chart's serviceaccount template (templates/SOURCES.md), which ../shared/upstream does not hold (only templates/terwayd/)",
    'object ClusterRoleBinding terway-binding: only in knit': "from the chart's clusterrolebinding template, not in ../shared/upstream",
    'object Role kube-system/terway: only in knit': "from the chart's role template, not in ../shared/upstream",
    'object RoleBinding kube-system/terway-binding: only in knit': "from the chart's rolebinding template, not in ../shared/upstream",
    'object ConfigMap kube-system/eni-config: only in knit':
      "the chart's configmap.yaml is not rendered here (too templated), so its render-time changes (ipam_type removed, network_policy_provider iptables, disable_network_policy) are not compared",
    'object CustomResourceDefinition *.crd.projectcalico.org: only in knit':
      "knit's Terway template has no Calico CRDs; with network policy on, knit generates all of Calico's crd.projectcalico.org CRDs from its table (felix runs on them), the chart's daemonset.yaml declares 8 stubs (compared field by field in the crd check)",
  },
};

// ---------------------------------------------------------------------------------------------
// Facts: the normalized structure compared (and stored in the fingerprint)
// ---------------------------------------------------------------------------------------------

interface CrdFacts {
  group: string;
  scope: string;
  versions: { name: string; served: boolean; storage: boolean }[];
  kind: string;
  plural: string;
  listKind: string;
  singular: string;
  shortNames: string[];
  statusSubresource: boolean;
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}
interface ContainerFacts {
  image: string;
  /** Env var names, sorted. */
  env: string[];
  /** Env var name → its value, or its valueFrom as JSON. */
  envValues: Record<string, string>;
  /** livenessProbe/readinessProbe/startupProbe, as written. */
  probes: Record<string, unknown>;
}
interface Facts {
  /** `Kind namespace/name` (cluster-scoped: `Kind name`), sorted. */
  objects: string[];
  /** CRD name → its identity. */
  crds: Record<string, CrdFacts>;
  /** `ClusterRole name` / `Role ns/name` → its rules, each with sorted lists, sorted. */
  rbac: Record<string, Rule[]>;
  /** `<workload id> container|initContainer <name>` → what runs. */
  containers: Record<string, ContainerFacts>;
  /** `ConfigMap ns/name` → its keys, sorted, and the values that fit on one line. */
  configMaps: Record<string, { keys: string[]; values: Record<string, string> }>;
}

const NAMESPACED = new Set(['ServiceAccount', 'ConfigMap', 'Secret', 'Role', 'RoleBinding', 'DaemonSet', 'Deployment', 'PodDisruptionBudget']);
const WORKLOADS = new Set(['DaemonSet', 'Deployment']);

const sorted = <T>(xs: T[]): T[] => [...xs].sort();
const json = (v: unknown): string => JSON.stringify(v);
/** JSON with object keys sorted at every level, so equal structures print alike. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v;

function normalizeRule(r: Obj): Rule {
  const rule: Rule = { verbs: [] };
  for (const k of ['apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const) if (r[k]) rule[k] = sorted(r[k] as string[]);
  rule.verbs = sorted(r.verbs as string[]);
  return rule;
}

/** Facts of a set of objects. `releaseNamespace`: where Helm puts namespaced objects that name none. */
function factsOf(objects: Obj[], releaseNamespace?: string): Facts {
  const facts: Facts = { objects: [], crds: {}, rbac: {}, containers: {}, configMaps: {} };
  for (const o of objects) {
    const ns: string | undefined = o.metadata.namespace ?? (NAMESPACED.has(o.kind) ? releaseNamespace : undefined);
    const id = `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata.name}`;
    facts.objects.push(id);
    if (o.kind === 'CustomResourceDefinition') {
      const { names } = o.spec;
      facts.crds[o.metadata.name] = {
        group: o.spec.group,
        scope: o.spec.scope,
        versions: (o.spec.versions as Obj[]).map((v) => ({ name: v.name, served: v.served, storage: v.storage })),
        kind: names.kind,
        plural: names.plural,
        // the apiserver's defaults, for CRDs that leave them out (Terway's chart does)
        listKind: names.listKind ?? `${names.kind}List`,
        singular: names.singular ?? String(names.kind).toLowerCase(),
        shortNames: names.shortNames ?? [],
        statusSubresource: (o.spec.versions as Obj[]).some((v) => v.subresources?.status !== undefined),
      };
    }
    if (o.kind === 'ClusterRole' || o.kind === 'Role')
      facts.rbac[id] = (o.rules as Obj[]).map((r) => canonical(normalizeRule(r)) as Rule).sort((a, b) => (json(a) < json(b) ? -1 : 1));
    if (o.kind === 'ConfigMap') {
      const data = (o.data ?? {}) as Record<string, string>;
      facts.configMaps[id] = { keys: sorted(Object.keys(data)), values: Object.fromEntries(Object.entries(data).filter(([, v]) => !String(v).includes('\n'))) };
    }
    if (!WORKLOADS.has(o.kind)) continue;
    const pod = o.spec.template.spec;
    for (const [list, what] of [['initContainers', 'initContainer'], ['containers', 'container']] as const)
      for (const c of (pod[list] ?? []) as Obj[]) {
        const env = (c.env ?? []) as Obj[];
        facts.containers[`${id} ${what} ${c.name}`] = {
          image: c.image,
          env: sorted(env.map((e) => e.name as string)),
          envValues: Object.fromEntries(env.map((e) => [e.name, 'value' in e ? String(e.value) : `valueFrom ${json(canonical(e.valueFrom))}`])),
          probes: Object.fromEntries(['livenessProbe', 'readinessProbe', 'startupProbe'].filter((p) => c[p]).map((p) => [p, canonical(c[p])])),
        };
      }
  }
  facts.objects.sort();
  // key order as in the fingerprint (JSON.parse keeps the sorted order it was written in)
  return canonical(facts) as Facts;
}

// ---------------------------------------------------------------------------------------------
// Drift: the differences between knit's facts and upstream's, one line each
// ---------------------------------------------------------------------------------------------

const ASPECTS = ['object', 'crd', 'rbac', 'image', 'env', 'env-value', 'probe', 'config'] as const;
type Aspect = (typeof ASPECTS)[number];

function onlyIn(knit: string[], upstream: string[]): { knit: string[]; upstream: string[] } {
  return { knit: knit.filter((x) => !upstream.includes(x)), upstream: upstream.filter((x) => !knit.includes(x)) };
}
const both = <T>(a: Record<string, T>, b: Record<string, T>): [string, T, T][] =>
  Object.keys(a)
    .filter((k) => k in b)
    .sort()
    .map((k) => [k, a[k]!, b[k]!]);

function drift(knit: Facts, up: Facts, aspect: Aspect): string[] {
  const lines: string[] = [];
  const differ = (what: string, k: unknown, u: unknown) => json(k) !== json(u) && lines.push(`${what}: knit ${json(k)}, upstream ${json(u)}`);
  switch (aspect) {
    case 'object': {
      const o = onlyIn(knit.objects, up.objects);
      lines.push(...o.knit.map((id) => `object ${id}: only in knit`), ...o.upstream.map((id) => `object ${id}: only in upstream`));
      break;
    }
    case 'crd':
      for (const [name, k, u] of both(knit.crds, up.crds)) for (const field of Object.keys(u) as (keyof CrdFacts)[]) differ(`crd ${name} ${field}`, k[field], u[field]);
      break;
    case 'rbac':
      for (const [id, k, u] of both(knit.rbac, up.rbac)) {
        const o = onlyIn(k.map(json), u.map(json));
        lines.push(...o.knit.map((r) => `rbac ${id}: only knit has rule ${r}`), ...o.upstream.map((r) => `rbac ${id}: only upstream has rule ${r}`));
      }
      break;
    case 'image': {
      const o = onlyIn(Object.keys(knit.containers), Object.keys(up.containers));
      lines.push(...o.knit.map((c) => `container ${c}: only in knit`), ...o.upstream.map((c) => `container ${c}: only in upstream`));
      for (const [c, k, u] of both(knit.containers, up.containers)) differ(`image ${c}`, k.image, u.image);
      break;
    }
    case 'env':
      for (const [c, k, u] of both(knit.containers, up.containers)) {
        const o = onlyIn(k.env, u.env);
        lines.push(...o.knit.map((n) => `env ${c}: only knit has ${n}`), ...o.upstream.map((n) => `env ${c}: only upstream has ${n}`));
      }
      break;
    case 'env-value':
      for (const [c, k, u] of both(knit.containers, up.containers)) for (const [n, kv, uv] of both(k.envValues, u.envValues)) differ(`env-value ${c} ${n}`, kv, uv);
      break;
    case 'probe':
      for (const [c, k, u] of both(knit.containers, up.containers))
        for (const p of sorted([...new Set([...Object.keys(k.probes), ...Object.keys(u.probes)])])) differ(`probe ${c} ${p}`, k.probes[p] ?? null, u.probes[p] ?? null);
      break;
    case 'config':
      for (const [id, k, u] of both(knit.configMaps, up.configMaps)) {
        const o = onlyIn(k.keys, u.keys);
        lines.push(...o.knit.map((key) => `config ${id}: only knit has key ${key}`), ...o.upstream.map((key) => `config ${id}: only upstream has key ${key}`));
        for (const [key, kv, uv] of both(k.values, u.values)) differ(`config ${id} ${key}`, kv, uv);
      }
      break;
  }
  return lines;
}

const matches = (pattern: string, line: string): boolean =>
  new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(line);
const allowed = (ref: Reference, line: string): boolean => Object.keys(ALLOWED_DRIFT[ref]).some((p) => matches(p, line));

// ---------------------------------------------------------------------------------------------
// Upstream extraction (live) and the fingerprint
// ---------------------------------------------------------------------------------------------

// ../shared/upstream beside the checkout; KNIT_UPSTREAM_DIR points elsewhere (e.g. a missing path, to see the fallback)
const UPSTREAM = process.env.KNIT_UPSTREAM_DIR ?? resolve(import.meta.dirname, '../../shared/upstream');
const HAS_UPSTREAM = existsSync(UPSTREAM);
const FINGERPRINT = join(import.meta.dirname, 'fixtures/upstream-cni/fingerprint.json');
const UPDATE = process.env.UPDATE_UPSTREAM === '1';

interface Fingerprint {
  comment: string;
  sources: Record<Reference, string[]>;
  facts: Record<Reference, Facts>;
}

const docsOf = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const lookup = (values: Obj, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Obj | undefined)?.[k], values);

/**
 * The chart's terwayd templates rendered just enough to compare: `{{- if …}}`/`{{- end}}` lines dropped
 * (their content kept: it is what the chart's default values select in these files), `.Values` lookups
 * substituted from values.yaml (the image becomes terway.image repository:tag). Anything else fails.
 */
function renderChartMinimally(template: string, values: Obj, file: string): string {
  const text = template
    .split('\n')
    .filter((line) => !/^\s*\{\{-?\s*(if|end)\b.*\}\}\s*$/.test(line))
    .join('\n')
    .replace(/\{\{-?\s*\.Values\.([\w.]+)\s*(?:\|[^}]*)?-?\}\}/g, (_, path: string) => {
      const v = lookup(values, path);
      if (v === undefined || typeof v === 'object') throw new Error(`${file}: .Values.${path} is not a scalar in values.yaml`);
      return String(v);
    });
  const left = /\{\{.*\}\}/.exec(text);
  if (left) throw new Error(`${file}: ${left[0]} is more than this test's minimal Helm render handles`);
  return text;
}

function extractUpstream(): Fingerprint['facts'] {
  const read = (file: string) => readFileSync(join(UPSTREAM, file), 'utf8');
  const values = parse(read('terway/chart/values.yaml')) as Obj;
  const docs = (ref: Reference) =>
    REFERENCES[ref].files.flatMap((f) => docsOf(ref === 'terway' ? renderChartMinimally(read(f), values, f) : read(f)));
  return {
    flannel: factsOf(docs('flannel')),
    calico: factsOf(docs('calico')),
    'calico-vxlan': factsOf(docs('calico-vxlan')),
    canal: factsOf(docs('canal')),
    // Helm installs into the release namespace; knit's template writes kube-system
    terway: factsOf(docs('terway'), 'kube-system'),
  };
}

const toJson = (v: unknown): string => `${JSON.stringify(canonical(v), null, 2)}\n`;
const live = HAS_UPSTREAM ? extractUpstream() : undefined;
if (UPDATE) {
  if (!live) throw new Error(`UPDATE_UPSTREAM=1 needs the upstream manifests at ${UPSTREAM}`);
  const fingerprint: Fingerprint = {
    comment: 'Generated by test/cni-conformance.test.ts with UPDATE_UPSTREAM=1 from ../shared/upstream; do not edit by hand.',
    sources: Object.fromEntries(Object.entries(REFERENCES).map(([ref, r]) => [ref, r.files])) as Record<Reference, string[]>,
    facts: live,
  };
  mkdirSync(dirname(FINGERPRINT), { recursive: true });
  writeFileSync(FINGERPRINT, toJson(fingerprint));
}
const fixture = existsSync(FINGERPRINT) ? (JSON.parse(readFileSync(FINGERPRINT, 'utf8')) as Fingerprint) : undefined;
const upstream = live ?? fixture?.facts;
const SOURCE = live ? `live ${UPSTREAM}` : `the committed fingerprint (${UPSTREAM} is missing)`;

// ---------------------------------------------------------------------------------------------
// knit's side
// ---------------------------------------------------------------------------------------------

function renderKnit(network: NonNullable<SpecInput['network']>): Facts {
  const input: SpecInput = { kubernetes: { controlPlaneEndpoint: '10.0.0.10' }, network, nodes: [{ name: 'cp-1', role: 'control-plane', privateIP: '10.0.0.10' }] };
  const { spec } = loadSpec({ file: { name: 'spec.yaml', text: JSON.stringify(input) }, hostname: 'cp-1' });
  return factsOf(renderCni({ spec, template: readTemplate }).applies.flatMap((a) => docsOf(a.yaml)));
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('the upstream fingerprint (test/fixtures/upstream-cni/fingerprint.json)', () => {
  it('exists and holds facts for every reference', () => {
    expect(fixture, `no ${FINGERPRINT}: run UPDATE_UPSTREAM=1 with ../shared/upstream present`).toBeDefined();
    expect(Object.keys(fixture!.facts).sort()).toEqual(Object.keys(REFERENCES).sort());
    expect(fixture!.sources).toEqual(Object.fromEntries(Object.entries(REFERENCES).map(([ref, r]) => [ref, r.files])));
  });

  it(
    'is current: equals the live extraction of ../shared/upstream (UPDATE_UPSTREAM=1 rewrites it)',
    skipUnless({ ok: live !== undefined, reason: `${UPSTREAM} is missing (no upstream manifests to compare with)` }),
    () => {
      expect(fixture?.facts, 'stale fingerprint: run UPDATE_UPSTREAM=1 and review the diff').toEqual(JSON.parse(toJson(live)));
    },
  );
});

const ASPECT_NAMES: Record<Aspect, string> = {
  object: 'the set of objects (kind, namespace, name)',
  crd: 'CRDs: group, versions, scope, kind/plural/listKind/singular/shortNames, status subresource',
  rbac: 'RBAC rules of every ClusterRole and Role (lists and rules sorted)',
  image: 'containers and init containers, and their images (name:tag)',
  env: 'env var names of every container',
  'env-value': 'env var values (value or valueFrom) of every container',
  probe: 'liveness/readiness/startup probes of every container',
  config: 'ConfigMap keys and one-line values',
};
const KNIT_RENDER: Record<Reference, string> = {
  flannel: 'flannel (default spec: vxlan)',
  calico: 'calico ipip',
  'calico-vxlan': 'calico vxlan',
  canal: 'canal (default spec)',
  terway: 'terway (default spec: eniip, network policy on)',
};

describe(`knit's rendered CNI objects vs upstream (from ${SOURCE})`, () => {
  it('has upstream facts to compare with', () => expect(upstream, `neither ${UPSTREAM} nor ${FINGERPRINT} exists`).toBeDefined());

  describe.each(Object.keys(REFERENCES) as Reference[])('%s', (ref) => {
    const knit = renderKnit(REFERENCES[ref].knit);
    const up = upstream?.[ref];
    // CRDs are compared where upstream has some (Calico's manifests, Terway's chart)
    const aspects = ASPECTS.filter((a) => a !== 'crd' || Object.keys(up?.crds ?? {}).length > 0);

    it.each(aspects.map((a) => [ASPECT_NAMES[a], a] as const))(`knit ${KNIT_RENDER[ref]} vs upstream ${REFERENCES[ref].label}: %s`, (_name, aspect) => {
      expect(up).toBeDefined();
      const unexpected = drift(knit, up!, aspect).filter((line) => !allowed(ref, line));
      expect(unexpected, `drift not in ALLOWED_DRIFT.${ref}`).toEqual([]);
    });

    it(`every ALLOWED_DRIFT.${ref} entry still matches a difference (no stale allowlist entries)`, () => {
      expect(up).toBeDefined();
      const lines = ASPECTS.flatMap((a) => drift(knit, up!, a));
      expect(Object.keys(ALLOWED_DRIFT[ref]).filter((p) => !lines.some((l) => matches(p, l)))).toEqual([]);
    });
  });

  it('the comparison catches drift: a changed image, a dropped env var and an extra RBAC verb show up', () => {
    const knit = renderKnit(REFERENCES.flannel.knit);
    const broken = structuredClone(knit);
    const c = broken.containers['DaemonSet kube-flannel/kube-flannel-ds container kube-flannel']!;
    c.image = 'ghcr.io/flannel-io/flannel:v0.0.1';
    c.env = c.env.filter((n) => n !== 'EVENT_QUEUE_DEPTH');
    broken.rbac['ClusterRole flannel']![0]!.verbs.push('delete');
    expect(ASPECTS.flatMap((a) => drift(broken, knit, a))).toEqual([
      expect.stringMatching(/^rbac ClusterRole flannel: only knit has rule .*"delete"/),
      expect.stringMatching(/^rbac ClusterRole flannel: only upstream has rule/),
      'image DaemonSet kube-flannel/kube-flannel-ds container kube-flannel: knit "ghcr.io/flannel-io/flannel:v0.0.1", upstream "ghcr.io/flannel-io/flannel:v0.28.9"',
      'env DaemonSet kube-flannel/kube-flannel-ds container kube-flannel: only upstream has EVENT_QUEUE_DEPTH',
    ]);
  });
});
