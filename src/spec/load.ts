/**
 * Builds a Spec from its sources: an optional YAML document, then flags on top. Pure: the caller reads
 * the file and supplies host facts (the hostname) so that this stays testable without I/O.
 */
import { isScalar, parseDocument, stringify } from 'yaml';
import type * as z from 'zod';
import { sameVpc } from '../crossvpc/peers.js';
import { KUBERNETES } from '../defaults.js';
import { UsageError } from '../errors.js';
import { isIPv4 } from './net.js';
import { specSchema, versionNumberMessage, type Spec, type SpecInput } from './schema.js';

/** Flags that override spec fields, and the field each one sets. */
export const FLAG_FIELDS = {
  k8sVersion: { flag: '--k8s-version', path: ['kubernetes', 'version'] },
  controlPlaneEndpoint: { flag: '--control-plane-endpoint', path: ['kubernetes', 'controlPlaneEndpoint'] },
  podCidr: { flag: '--pod-cidr', path: ['kubernetes', 'podSubnet'] },
  serviceCidr: { flag: '--service-cidr', path: ['kubernetes', 'serviceSubnet'] },
  imageRepository: { flag: '--image-repository', path: ['kubernetes', 'imageRepository'] },
  cni: { flag: '--cni', path: ['network', 'plugin'] },
  calicoMode: { flag: '--calico-mode', path: ['network', 'calico', 'mode'] },
  mirror: { flag: '--mirror', path: ['mirror'] },
  imageRegistry: { flag: '--image-registry', path: ['imageRegistry'] },
} as const;

export type SpecFlags = { [K in keyof typeof FLAG_FIELDS]?: string } & {
  /** The node this command runs on: picked from `nodes` by name, or added. */
  nodeName?: string;
  /** The local node's private IP (kubeadm's advertise address, kubelet's node-ip). */
  advertiseAddress?: string;
  /** The local node's public IP (its EIP). */
  publicIp?: string;
  role?: 'control-plane' | 'worker';
};

export interface SpecSources {
  /** Contents of `--config FILE`, and the name to use in messages. */
  file?: { name: string; text: string };
  flags?: SpecFlags;
  /** Host facts used for defaults: the local hostname names the node when nothing else does. */
  hostname: string;
  /** What the ECS metadata service says about this host: defaults for the fields the file and flags leave out. */
  detected?: DetectedHost;
}

/** ECS facts about the local node (src/cloud/alicloud/metadata.ts reads them). */
export interface DetectedHost {
  privateIP: string;
  publicIP?: string;
  instanceId: string;
  instanceType: string;
  zoneId: string;
  regionId: string;
  vswitchId: string;
  /** The instance's VPC id: its `vpc` label where the spec labels nodes by VPC. */
  vpcId?: string;
}

export interface LoadedSpec {
  spec: Spec;
  /** Name of the node this command runs on (always present in spec.nodes). */
  localNode: string;
  /** What a default decided that the user should hear (a private endpoint), for the command to say. */
  notes: string[];
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function setIn(obj: Raw, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(cur[key])) cur[key] = {};
    cur = cur[key] as Raw;
  }
  cur[path[path.length - 1]!] = value;
}

/** A JSON document (what scripts that generate large specs write) parsed natively; undefined otherwise. */
function parseJson(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // the YAML parser says where it is wrong
  }
}

/** How many alias expansions a spec file may make (yaml's own default; a "billion laughs" file makes millions). */
const MAX_ALIAS_COUNT = 100;

/** The text of a number as the YAML file wrote it (`1.30`, which the parser reads as 1.3), if it is a YAML scalar there. */
type SourceOf = (path: readonly string[]) => string | undefined;

function parseFile(file: { name: string; text: string }): { raw: Raw; sourceOf: SourceOf } {
  // JSON is YAML: the same document either way, but JSON.parse reads a 1,000-node spec ~20× faster
  let value = parseJson(file.text);
  let sourceOf: SourceOf = () => undefined;
  if (value === undefined) {
    // any failure to read the file is bad input naming the file (exit 2), whatever the parser throws
    try {
      const doc = parseDocument(file.text, { prettyErrors: true, uniqueKeys: true });
      const err = doc.errors[0];
      if (err) {
        const pos = err.linePos?.[0];
        throw new UsageError(`${file.name}${pos ? `:${pos.line}:${pos.col}` : ''}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
      }
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      sourceOf = (path) => {
        const node = doc.getIn(path, true);
        return isScalar(node) && node.range ? file.text.slice(node.range[0], node.range[1]) : undefined;
      };
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const message = (e as Error).message.split('\n')[0]!;
      throw new UsageError(
        `${file.name}: ${/alias/i.test(message) ? `too many YAML alias expansions (more than ${MAX_ALIAS_COUNT}; a spec never needs them)` : message}`,
      );
    }
  }
  if (value == null) return { raw: {}, sourceOf };
  if (!isObject(value)) throw new UsageError(`${file.name}: expected a knit Cluster document (a YAML mapping)`);
  return { raw: value, sourceOf };
}

/** Edit distance (Levenshtein), for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key a misspelt one most likely meant: the same but for case, else the nearest within a third of its length. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const sameCase = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameCase) return sameCase;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/**
 * zod's messages where knit says more: an unknown key of any strict object is named, with the closest
 * known key of that object (`unknown field privateIp; did you mean privateIP?`).
 */
const specErrorMap = (issue: z.core.$ZodRawIssue): string | undefined => {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  const known = shape ? Object.keys(shape) : [];
  return issue.keys
    .map((key) => {
      const guess = closestKey(key, known);
      // a key of odd characters (a space, a newline) is quoted: the message stays one line
      return `unknown field ${/^[\w.-]+$/.test(key) ? key : JSON.stringify(key)}${guess ? `; did you mean ${guess}?` : ''}`;
    })
    .join('; ');
};

/** `nodes.1.privateIP` → `nodes[1].privateIP` */
export const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');

/** Where a flag set a field, the message names the flag too. */
function describeIssue(issue: z.core.$ZodIssue, flagsByPath: Map<string, string>): string {
  const path = issue.path.length > 0 ? formatPath(issue.path) : 'spec';
  const flag = flagsByPath.get(path);
  return `${path}${flag ? ` (${flag})` : ''}: ${issue.message}`;
}

/**
 * Metadata facts fill what the file and flags left out, never more: the node's addresses and ECS
 * identity, the region, and for Terway the node's own vSwitch as the pod vSwitch of its zone.
 */
function fillDetected(raw: Raw, local: Raw, d: DetectedHost, addressGiven: boolean): void {
  const fill = (obj: Raw, key: string, value: unknown) => {
    if (obj[key] === undefined && value !== undefined) obj[key] = value;
  };
  // this instance's identity belongs on its own entry only: another node's would get a wrong provider-id
  if (!addressGiven && local.privateIP !== undefined && local.privateIP !== d.privateIP)
    throw new UsageError(
      `nodes: this host is ${d.privateIP} (ECS metadata), but the node picked as this one, ${String(local.name)}, has privateIP ${String(local.privateIP)}; name this host's node with --node-name`,
    );
  fill(local, 'privateIP', d.privateIP);
  fill(local, 'publicIP', d.publicIP);
  fill(local, 'instanceId', d.instanceId);
  fill(local, 'instanceType', d.instanceType);
  fill(local, 'zone', d.zoneId);
  // The VPC label says which nodes reach each other privately. Where the spec labels its nodes, this
  // instance's VPC id is its label (a scaling group's instance joins without an entry of its own); where it
  // labels none, nodes are grouped by /24, and one labelled node would stand alone in its own VPC.
  const nodes = Array.isArray(raw.nodes) ? raw.nodes : [];
  if (nodes.some((n) => n !== local && isObject(n) && n.vpc !== undefined)) fill(local, 'vpc', d.vpcId);
  const alicloud = isObject(raw.alicloud) ? raw.alicloud : (raw.alicloud = {});
  fill(alicloud, 'region', d.regionId);
  const network = isObject(raw.network) ? raw.network : undefined;
  if (network?.plugin === 'terway') {
    const terway = isObject(network.terway) ? network.terway : (network.terway = {});
    const vswitches = isObject(terway.vswitches) ? terway.vswitches : undefined;
    if (!vswitches || Object.keys(vswitches).length === 0) terway.vswitches = { [d.zoneId]: [d.vswitchId] };
  }
}

function getIn(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/**
 * The endpoint when the file and flags give none. The first control plane's public IP: the address
 * nodes in other VPCs reach. Without one, its private IP, when every node of the spec shares its VPC
 * (the VPC rule of src/crossvpc/peers.ts; a spec of one node is such a cluster): there the private
 * address is the one every node reaches, and no public address is exposed. That choice is said (the
 * note), since it would not do for a node added later in another VPC. Otherwise there is no default,
 * and `missing` says why.
 */
function defaultEndpoint(nodes: readonly unknown[], local: unknown): { host: string; note?: string } | { missing: string } {
  const cp = nodes.find((n): n is Raw => isObject(n) && n.role === 'control-plane');
  if (!cp) return { missing: 'not given, and there is no default: nodes has no control plane' };
  const name = String(cp.name);
  const { publicIP, privateIP } = cp;
  // derive only from a valid address, so that a bad --public-ip is reported as itself
  if (typeof publicIP === 'string' && isIPv4(publicIP)) return { host: publicIP };
  const flag = cp === local ? ' (--public-ip)' : '';
  if (publicIP !== undefined || typeof privateIP !== 'string' || !isIPv4(privateIP))
    return { missing: `not given, and there is no default: it would be ${name}'s public IP${flag}, or its private IP when every node is in its VPC` };
  const elsewhere = nodes.filter(
    (n): n is Raw => isObject(n) && n !== cp && typeof n.privateIP === 'string' && isIPv4(n.privateIP) && !sameVpc(vpcMember(cp, privateIP), vpcMember(n, n.privateIP)),
  );
  if (elsewhere.length > 0)
    return {
      missing:
        `not given, and there is no default: ${name} has no public IP${flag}, and ${elsewhere.map((n) => String(n.name)).join(', ')} ` +
        `${elsewhere.length === 1 ? 'is in another VPC' : 'are in other VPCs'}, which cannot reach its private IP without one`,
    };
  return {
    host: privateIP,
    note:
      `kubernetes.controlPlaneEndpoint defaults to ${privateIP}:${KUBERNETES.apiServerPort}, ${name}'s private IP: ${name} has no public IP and every node is in its VPC ` +
      '(for nodes in other VPCs, give --public-ip or --control-plane-endpoint)',
  };
}

const vpcMember = (n: Raw, privateIP: string) => ({ privateIP, ...(typeof n.vpc === 'string' ? { vpc: n.vpc } : {}) });

export function loadSpec(sources: SpecSources): LoadedSpec {
  const parsed = sources.file ? parseFile(sources.file) : undefined;
  const raw: Raw = parsed?.raw ?? {};
  const flags = sources.flags ?? {};
  /** Field path → the flag that set it, or that would set it when the field is missing. */
  const flagsByPath = new Map<string, string>();
  const givenByFlag = new Set<string>();

  for (const [key, { flag, path }] of Object.entries(FLAG_FIELDS)) {
    const value = flags[key as keyof typeof FLAG_FIELDS];
    if (value === undefined) continue;
    setIn(raw, path, value);
    flagsByPath.set(path.join('.'), flag);
    givenByFlag.add(path.join('.'));
  }

  // The local node: named by --node-name, else the node holding --advertise-address (or the private IP
  // the metadata service reports), else the first control plane; with no inventory at all, the flags
  // describe a single node.
  if (raw.nodes !== undefined && !Array.isArray(raw.nodes)) throw new UsageError('nodes: must be a list of nodes');
  const nodes = (raw.nodes ?? []) as unknown[];
  raw.nodes = nodes;
  const localIP = flags.advertiseAddress ?? sources.detected?.privateIP;
  let index = nodes.findIndex((n) =>
    flags.nodeName !== undefined ? isObject(n) && n.name === flags.nodeName : localIP !== undefined && isObject(n) && n.privateIP === localIP,
  );
  if (index < 0 && flags.nodeName === undefined) index = nodes.findIndex((n) => isObject(n) && n.role === 'control-plane');
  if (index < 0 && flags.nodeName === undefined && nodes.length > 0) index = 0;
  if (index < 0) {
    index = nodes.length;
    nodes.push({ name: flags.nodeName ?? sources.hostname.toLowerCase(), role: flags.role ?? (index === 0 ? 'control-plane' : 'worker') });
    if (flags.advertiseAddress === undefined) flagsByPath.set(`nodes[${index}].privateIP`, '--advertise-address');
  }
  const local = nodes[index];
  if (!isObject(local)) throw new UsageError(`nodes[${index}]: must be a mapping with name, role and privateIP`);
  if (flags.advertiseAddress !== undefined) {
    local.privateIP = flags.advertiseAddress;
    flagsByPath.set(`nodes[${index}].privateIP`, '--advertise-address');
    givenByFlag.add(`nodes[${index}].privateIP`);
  }
  if (flags.publicIp !== undefined) {
    local.publicIP = flags.publicIp;
    flagsByPath.set(`nodes[${index}].publicIP`, '--public-ip');
    givenByFlag.add(`nodes[${index}].publicIP`);
  }
  if (flags.role !== undefined) local.role = flags.role;
  if (sources.detected) fillDetected(raw, local, sources.detected, flags.advertiseAddress !== undefined);

  // The endpoint: the first control plane's public IP, or its private IP in a single-VPC cluster (defaultEndpoint).
  const kube = isObject(raw.kubernetes) ? raw.kubernetes : (raw.kubernetes = {});
  const notes: string[] = [];
  let endpointMissing: string | undefined;
  if (kube.controlPlaneEndpoint === undefined) {
    const d = defaultEndpoint(nodes, local);
    if ('host' in d) {
      kube.controlPlaneEndpoint = d.host;
      if (d.note) notes.push(d.note);
    } else endpointMissing = d.missing;
    flagsByPath.set('kubernetes.controlPlaneEndpoint', '--control-plane-endpoint');
  }

  // an unquoted `version: 1.30` is the number 1.3: say it with the text the file has
  const version = isObject(raw.kubernetes) ? raw.kubernetes.version : undefined;
  if (typeof version === 'number')
    throw new UsageError(`kubernetes.version: ${versionNumberMessage(version, parsed?.sourceOf(['kubernetes', 'version']))}`);

  const result = specSchema.safeParse(raw, { error: specErrorMap });
  if (!result.success) {
    const issues = result.error.issues;
    const isMissing = (i: z.core.$ZodIssue) => i.code === 'invalid_type' && getIn(raw, i.path) === undefined;
    // A value the user typed on the command line is the likeliest culprit: report it first; then a value
    // given but wrong (a missing one may only follow from it, as the endpoint from a bad public IP);
    // then every missing value, in one line, so that one run says all that is left to give.
    const first = issues.find((i) => givenByFlag.has(formatPath(i.path))) ?? issues.find((i) => !isMissing(i));
    if (first) throw new UsageError(describeIssue(first, flagsByPath));
    const localAddress = `nodes[${index}].privateIP`;
    // each field once, this node's own address first
    const missing = issues
      .filter((i, k) => issues.findIndex((j) => formatPath(j.path) === formatPath(i.path)) === k)
      .sort((a, b) => Number(formatPath(b.path) === localAddress) - Number(formatPath(a.path) === localAddress));
    throw new UsageError(
      missing
        .map((i) => {
          const path = formatPath(i.path);
          const flag = flagsByPath.get(path);
          const why = path === 'kubernetes.controlPlaneEndpoint' && endpointMissing ? endpointMissing
            : path === localAddress ? "is required (this node's private IP, the address on its NIC)"
            : i.message;
          return `${path}${flag ? ` (${flag})` : ''}: ${why}`;
        })
        .join('; '),
    );
  }
  return { spec: result.data, localNode: String(local.name), notes };
}

/** A spec file as written (defaults not applied), after checking it loads: what the wizard starts from. */
export function readSpecInput(file: { name: string; text: string }, hostname: string): SpecInput {
  loadSpec({ file, hostname });
  return parseFile(file).raw as SpecInput;
}

/** The wizard's answers as a config file; `--config` reads it back to the same Spec. */
export const stringifySpecInput = (spec: SpecInput): string => `# a knit cluster spec, written by the wizard\n${stringify(spec, { lineWidth: 0 })}`;

/** The spec as a config file that `--config` reads back to the same Spec. */
export const stringifySpec = (spec: Spec): string => stringify(spec, { lineWidth: 0 });
