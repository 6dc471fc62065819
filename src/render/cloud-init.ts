/**
 * `knit render --cloud-init`: a `#cloud-config` document for ECS user-data (or an Auto Scaling
 * configuration) that makes every instance started with it join the cluster by itself. One document
 * serves a whole scaling group: nothing in it is about one instance. At boot the instance
 *
 *   1. gets knit from `--binary-url` (the user's OSS bucket or mirror: no other host is assumed to be
 *      reachable), checks its SHA-256 and installs it as /usr/local/bin/knit;
 *   2. names itself after its hostname (lowercased) and takes its private address from the route to
 *      the metadata service (knit join also reads the rest from the ECS metadata service: EIP,
 *      instance id and type, zone, region);
 *   3. runs `knit preflight --fix`, then `knit join` with the spec written next to it, the endpoint and
 *      the CA hash as flags, and the token (and a control plane's certificate key) from 0600 files
 *      through the environment: never on a command line, never in the log (no `set -x`).
 *
 * The document is built with the `yaml` library; the one script in it quotes every value it was given
 * with a POSIX single-quote escaper, after checking each value's form. Pure: no I/O here.
 */
import { gzipSync } from 'node:zlib';
import { Document } from 'yaml';
import { CLOUD_INIT, PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { JOIN_FORMATS } from '../kubeadm/join-command.js';
import type { Spec } from '../spec/schema.js';
import { shellQuote } from '../runner/describe.js';

export type CloudInitRole = 'worker' | 'control-plane';
export type Arch = (typeof CLOUD_INIT.arches)[keyof typeof CLOUD_INIT.arches];
const ARCHES = Object.values(CLOUD_INIT.arches) as Arch[];
export const ARCH_PLACEHOLDER = '{arch}';

export interface CloudInitOptions {
  role: CloudInitRole;
  /** Where instances download knit: one executable, or `{arch}` standing for x64/arm64. */
  binaryUrl: string;
  /** `--sha256`: one hash (no `{arch}` in the URL), or `ARCH=HASH` per architecture (with `{arch}`). */
  sha256: readonly string[];
  token: string;
  caCertHash: string;
  /** A control plane's: the key of the certificates `kubeadm init --upload-certs` uploaded. */
  certificateKey?: string;
}

/** The environment variables `knit join` reads its secrets from (so they stay off command lines). */
export const JOIN_ENV = { token: 'KNIT_JOIN_TOKEN', certificateKey: 'KNIT_JOIN_CERTIFICATE_KEY' } as const;

export { shellQuote };

const URL_FORM = /^https?:\/\/[^\s'"`\\$<>{}|^]+$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/** The download of each architecture: its URL and SHA-256 (lowercase hex), checked. */
export function binarySources(binaryUrl: string, sha256: readonly string[]): Partial<Record<Arch, { url: string; sha256: string }>> {
  const perArch = binaryUrl.includes(ARCH_PLACEHOLDER);
  const urlFor = (arch: Arch) => binaryUrl.split(ARCH_PLACEHOLDER).join(arch);
  if (!URL_FORM.test(urlFor('x64')))
    throw new UsageError(`--binary-url: ${JSON.stringify(binaryUrl)} must be an http:// or https:// URL without spaces, quotes or shell characters (${ARCH_PLACEHOLDER} may stand for the architecture)`);
  if (sha256.length === 0) throw new UsageError('--sha256: required, the SHA-256 of the knit executable at --binary-url (sha256sum knit-linux-x64)');
  if (!perArch) {
    if (sha256.length !== 1 || !SHA256.test(sha256[0]!))
      throw new UsageError(`--sha256: one hash of 64 hex digits for ${binaryUrl} (for one URL per architecture, put ${ARCH_PLACEHOLDER} in --binary-url and give --sha256 x64=HASH --sha256 arm64=HASH)`);
    const one = { url: binaryUrl, sha256: sha256[0]!.toLowerCase() };
    return { x64: one, arm64: one };
  }
  const out: Partial<Record<Arch, { url: string; sha256: string }>> = {};
  for (const value of sha256) {
    const m = /^([^=]+)=(.*)$/.exec(value);
    const arch = m?.[1] as Arch | undefined;
    if (!m || !ARCHES.includes(arch!) || !SHA256.test(m[2]!))
      throw new UsageError(`--sha256: ${JSON.stringify(value)}: with ${ARCH_PLACEHOLDER} in --binary-url, give ARCH=HASH (ARCH ${ARCHES.join(' or ')}, HASH 64 hex digits)`);
    if (out[arch!]) throw new UsageError(`--sha256: ${arch} is given twice`);
    out[arch!] = { url: urlFor(arch!), sha256: m[2]!.toLowerCase() };
  }
  return out;
}

function checkSecrets(o: CloudInitOptions): void {
  if (!JOIN_FORMATS.token.test(o.token)) throw new UsageError('--token: required, in the form abcdef.0123456789abcdef (kubeadm token create)');
  if (!JOIN_FORMATS.caCertHash.test(o.caCertHash)) throw new UsageError('--ca-cert-hash: required, in the form sha256:<64 hex digits>');
  if (o.role === 'control-plane' && !(o.certificateKey && JOIN_FORMATS.certificateKey.test(o.certificateKey)))
    throw new UsageError('--certificate-key: required with --role control-plane (64 hex digits, from `kubeadm init phase upload-certs --upload-certs`)');
  if (o.role === 'worker' && o.certificateKey !== undefined) throw new UsageError('--certificate-key: only with --role control-plane');
}

/** The boot script: sh, `set -eu`, every given value single-quoted. */
export function joinScript(spec: Spec, o: CloudInitOptions): string {
  const sources = binarySources(o.binaryUrl, o.sha256);
  const q = shellQuote;
  const endpoint = spec.kubernetes.controlPlaneEndpoint;
  const bin = CLOUD_INIT.binary;
  const archCases = Object.entries(CLOUD_INIT.arches).map(([machine, arch]) => {
    const src = sources[arch];
    return src
      ? `  ${machine}) url=${q(src.url)}; sha256=${q(src.sha256)} ;;`
      : `  ${machine}) say ${q(`no knit executable for ${arch} (${machine}) was given to knit render --cloud-init`)}; exit 1 ;;`;
  });
  const roleFlags = o.role === 'control-plane' ? ' --control-plane' : '';
  const secretsEnv =
    `${JOIN_ENV.token}="$(cat ${q(CLOUD_INIT.tokenFile)})"` +
    (o.role === 'control-plane' ? ` ${JOIN_ENV.certificateKey}="$(cat ${q(CLOUD_INIT.certificateKeyFile)})"` : '');
  const lines = [
    '#!/bin/sh',
    `# Written by knit render --cloud-init: joins this instance to the cluster at ${endpoint} as a ${o.role}.`,
    '# Safe to run again by hand: sh ' + CLOUD_INIT.script,
    'set -eu',
    'umask 077',
    // cloud-init may start this without HOME, and with a short PATH
    'export HOME="${HOME:-/root}" PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    `mkdir -p ${q(PATHS.logDir)}`,
    `echo ${q(`knit cloud-init: logging to ${CLOUD_INIT.log}`)}`,
    `exec >>${q(CLOUD_INIT.log)} 2>&1`,
    `say() { printf '%s knit cloud-init: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }`,
    'fetch() {',
    '  if command -v curl >/dev/null 2>&1; then curl -fsSL --connect-timeout 10 --max-time 600 -o "$1" "$2"',
    '  else wget -q -T 60 -O "$1" "$2"; fi',
    '}',
    'machine=$(uname -m)',
    'case "$machine" in',
    ...archCases,
    `  *) say "no knit executable for $machine"; exit 1 ;;`,
    'esac',
    `if [ -x ${q(bin)} ] && [ "$(sha256sum ${q(bin)} | cut -d' ' -f1)" = "$sha256" ]; then`,
    `  say "knit already installed at ${bin}"`,
    'else',
    `  tmp=${q(`${bin}.download`)}`,
    '  tries=0',
    '  until fetch "$tmp" "$url"; do',
    '    tries=$((tries + 1))',
    `    if [ "$tries" -ge ${CLOUD_INIT.downloadTries} ]; then say "cannot download $url (${CLOUD_INIT.downloadTries} tries)"; rm -f "$tmp"; exit 1; fi`,
    '    sleep $((tries * 5))',
    '  done',
    `  got=$(sha256sum "$tmp" | cut -d' ' -f1)`,
    '  if [ "$got" != "$sha256" ]; then say "$url: SHA-256 $got, expected $sha256; not installed"; rm -f "$tmp"; exit 1; fi',
    '  chmod 0755 "$tmp"',
    `  mv -f "$tmp" ${q(bin)}`,
    `  say "installed knit from $url at ${bin}"`,
    'fi',
    // Kubernetes node names are lowercase; ECS hostnames (iZbp1…Z) are not
    `node_name=$(hostname | tr '[:upper:]' '[:lower:]')`,
    // the address of the NIC that reaches the metadata service: the instance's primary private IP
    `private_ip=$(ip -4 -o route get 100.100.100.200 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p' || true)`,
    'if [ -z "$private_ip" ]; then say "cannot tell this instance\'s private IP (ip route get 100.100.100.200)"; exit 1; fi',
    `say "node $node_name, private IP $private_ip, role ${o.role}"`,
    `if ! ${q(bin)} preflight --fix --config ${q(CLOUD_INIT.specFile)} --node-name "$node_name" --advertise-address "$private_ip" --role ${q(o.role)}; then`,
    '  say "knit preflight --fix left checks failing (above); not joining"; exit 3',
    'fi',
    `if ! ${secretsEnv} ${q(bin)} join --yes --config ${q(CLOUD_INIT.specFile)} --node-name "$node_name" --advertise-address "$private_ip" --endpoint ${q(endpoint)} --ca-cert-hash ${q(o.caCertHash)}${roleFlags}; then`,
    `  say "knit join failed (above); the secrets stay in ${CLOUD_INIT.tokenFile} for a run by hand"; exit 1`,
    'fi',
    `rm -f ${q(CLOUD_INIT.tokenFile)} ${q(CLOUD_INIT.certificateKeyFile)}`,
    'say "joined"',
  ];
  return `${lines.join('\n')}\n`;
}

export interface RenderedCloudInit {
  text: string;
  bytes: number;
  /** The spec went in gzip+base64 to fit (ECS's limit is on the document before base64). */
  specCompressed: boolean;
}

/** The `#cloud-config` document; UsageError when a value is malformed or it exceeds ECS's user-data limit (CLOUD_INIT.maxUserDataBytes). */
export function renderCloudInit(spec: Spec, o: CloudInitOptions): RenderedCloudInit {
  checkSecrets(o);
  const script = joinScript(spec, o);
  const specJson = `${JSON.stringify(spec)}\n`;
  const file = (path: string, content: string, permissions = '0600', encoding?: 'gz+b64') => ({
    path,
    owner: 'root:root',
    permissions,
    ...(encoding ? { encoding } : {}),
    content,
  });
  const build = (compress: boolean): string => {
    const doc = new Document({
      write_files: [
        compress ? file(CLOUD_INIT.specFile, gzipSync(specJson, { level: 9 }).toString('base64'), '0600', 'gz+b64') : file(CLOUD_INIT.specFile, specJson),
        file(CLOUD_INIT.tokenFile, `${o.token}\n`),
        ...(o.role === 'control-plane' ? [file(CLOUD_INIT.certificateKeyFile, `${o.certificateKey}\n`)] : []),
        file(CLOUD_INIT.script, script, '0700'),
      ],
      runcmd: [['/bin/sh', CLOUD_INIT.script]],
    });
    return `#cloud-config\n${doc.toString({ lineWidth: 0 })}`;
  };
  let text = build(false);
  let specCompressed = false;
  if (Buffer.byteLength(text) > CLOUD_INIT.maxUserDataBytes) {
    text = build(true);
    specCompressed = true;
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > CLOUD_INIT.maxUserDataBytes)
    throw new UsageError(
      `nodes: the user-data is ${bytes} bytes with the spec compressed, over ECS's limit of ${CLOUD_INIT.maxUserDataBytes} bytes (${CLOUD_INIT.maxUserDataBytes / 1024} KB before Base64); ` +
        `give the instances a smaller spec (${spec.nodes.length} nodes now: the control planes and the nodes they must reach suffice)`,
    );
  return { text, bytes, specCompressed };
}
