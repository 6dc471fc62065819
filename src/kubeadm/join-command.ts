/** The join parameters kubeadm prints at the end of `init` (or `token create --print-join-command`). */
import { formatArgv } from '../runner/describe.js';

export interface JoinParameters {
  endpoint: string;
  token: string;
  caCertHash: string;
  /** Present only when kubeadm printed the control-plane join (after --upload-certs). */
  certificateKey?: string;
}

/** kubeadm wraps its join command over lines ending in `\`; this reads it back as one. */
export function parseJoinCommand(output: string): JoinParameters | undefined {
  const text = output.replace(/\\\r?\n\s*/g, ' ');
  const m = /kubeadm join (\S+)\s+--token ([a-z0-9]{6}\.[a-z0-9]{16})\s+--discovery-token-ca-cert-hash (sha256:[a-f0-9]{64})/.exec(text);
  if (!m) return undefined;
  const key = /--control-plane\s+--certificate-key ([a-f0-9]{64})/.exec(text);
  return { endpoint: m[1]!, token: m[2]!, caCertHash: m[3]!, ...(key ? { certificateKey: key[1] } : {}) };
}

/** The `knit join …` line to run on the other nodes. The certificate key only when asked for. */
export function knitJoinCommand(p: JoinParameters, opts: { controlPlane?: boolean } = {}): string {
  const argv = ['knit', 'join', '--endpoint', p.endpoint, '--token', p.token, '--ca-cert-hash', p.caCertHash];
  if (opts.controlPlane && p.certificateKey) argv.push('--control-plane', '--certificate-key', p.certificateKey);
  return formatArgv(argv);
}

/** The formats of what `knit init` prints for joining (kubeadm's): checked by `knit join` and the wizard. */
export const JOIN_FORMATS = {
  token: /^[a-z0-9]{6}\.[a-z0-9]{16}$/,
  caCertHash: /^sha256:[a-f0-9]{64}$/,
  certificateKey: /^[a-f0-9]{64}$/,
} as const;
