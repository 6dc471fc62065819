/**
 * Builds a Spec from its sources: an optional YAML document, then flags on top. Pure: the caller reads
 * the file and supplies host facts (the hostname) so that this stays testable without I/O.
 */
import { parseDocument, stringify } from 'yaml';
import type * as z from 'zod';
import { UsageError } from '../errors.js';
import { isIPv4 } from './net.js';
import { specSchema, type Spec, type SpecInput } from './schema.js';

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
}

export interface LoadedSpec {
  spec: Spec;
  /** Name of the node this command runs on (always present in spec.nodes). */
  localNode: string;
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

function parseFile(file: { name: string; text: string }): Raw {
  // JSON is YAML: the same document either way, but JSON.parse reads a 1,000-node spec ~20× faster
  let value = parseJson(file.text);
  if (value === undefined) {
    const doc = parseDocument(file.text, { prettyErrors: true, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw new UsageError(`${file.name}${pos ? `:${pos.line}:${pos.col}` : ''}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    value = doc.toJS();
  }
  if (value == null) return {};
  if (!isObject(value)) throw new UsageError(`${file.name}: expected a knit Cluster document (a YAML mapping)`);
  return value;
}

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
  const alicloud = isObject(raw.alicloud) ? raw.alicloud : (raw.alicloud = {});
  fill(alicloud, 'region', d.regionId);
  const network = isObject(raw.network) ? raw.network : undefined;
  if (network?.plugin === 'terway') {
    const terway = isObject(network.terway) ? network.terway : (network.terway = {});
    const vswitches = isObject(terway.vswitches) ? terway.vswitches : undefined;
    if (!vswitches || Object.keys(vswitches).length === 0) terway.vswitches = { [d.zoneId]: [d.vswitchId] };
  }
}

export function loadSpec(sources: SpecSources): LoadedSpec {
  const raw: Raw = sources.file ? parseFile(sources.file) : {};
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

  // The endpoint defaults to the first control plane's public address (what cross-VPC peers can reach).
  const kube = isObject(raw.kubernetes) ? raw.kubernetes : (raw.kubernetes = {});
  if (kube.controlPlaneEndpoint === undefined) {
    const cp = nodes.find((n) => isObject(n) && n.role === 'control-plane');
    const host = isObject(cp) ? (cp.publicIP ?? cp.privateIP) : undefined;
    // derive only from a valid address, so that a bad --public-ip is reported as itself
    if (typeof host === 'string' && isIPv4(host)) kube.controlPlaneEndpoint = host;
    else flagsByPath.set('kubernetes.controlPlaneEndpoint', '--control-plane-endpoint');
  }

  const result = specSchema.safeParse(raw);
  if (!result.success) {
    // A value the user typed on the command line is the likeliest culprit: report it first.
    const issues = result.error.issues;
    const first = issues.find((i) => givenByFlag.has(formatPath(i.path))) ?? issues[0]!;
    throw new UsageError(describeIssue(first, flagsByPath));
  }
  return { spec: result.data, localNode: String(local.name) };
}

/** A spec file as written (defaults not applied), after checking it loads: what the wizard starts from. */
export function readSpecInput(file: { name: string; text: string }, hostname: string): SpecInput {
  loadSpec({ file, hostname });
  return parseFile(file) as SpecInput;
}

/** The wizard's answers as a config file; `--config` reads it back to the same Spec. */
export const stringifySpecInput = (spec: SpecInput): string => `# a knit cluster spec, written by the wizard\n${stringify(spec, { lineWidth: 0 })}`;

/** The spec as a config file that `--config` reads back to the same Spec. */
export const stringifySpec = (spec: Spec): string => stringify(spec, { lineWidth: 0 });
