/**
 * The apply interpreter for host effects: the only code that changes the machine. Every change is
 * idempotent by itself (equal content, equal sysctl value → no change) and files are backed up first.
 */
import type { Effect, EffectApplier, EffectOutcome, Probe } from '../runner/types.js';
import { formatArgv } from '../runner/describe.js';
import type { Exec } from './exec.js';
import { HostFiles } from './files.js';
import { parseJoinCommand, type JoinParameters } from '../kubeadm/join-command.js';
import { MASK, redact } from '../ui/redact.js';

/**
 * A line for a log file: the registered secrets masked (src/ui/redact.ts), and the join secrets kubeadm
 * prints (they are not registered: `knit init` prints the join command on purpose): a bootstrap token's
 * secret half (`abcdef.0123456789abcdef` → `abcdef.********`, as `--token` or after `Using token:`) and
 * the certificate key (64 hex digits, after `--certificate-key` or alone on the line after `Using
 * certificate key:`; a `sha256:` CA hash is public and kept).
 */
export function maskLogLine(line: string): string {
  return redact(line)
    .replace(/\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g, `$1.${MASK}`)
    .replace(/(^|[^:a-f0-9])[a-f0-9]{64}(?![a-f0-9])/g, `$1${MASK}`);
}

let joinSeen: JoinParameters | undefined;
/**
 * The join parameters of the last `kubeadm init` (or `token create --print-join-command`) this process
 * ran, read from its output as it arrived: the log holds them masked.
 */
export const joinParametersSeen = (): JoinParameters | undefined => joinSeen;

export class EffectFailure extends Error {
  constructor(
    message: string,
    readonly output?: string,
  ) {
    super(message);
  }
}

export interface HostApplierOptions {
  files: HostFiles;
  exec: Exec;
  /** Recorded with each backup so that `undo` restores only what this owner changed (e.g. `preflight`). */
  owner: string;
  /** Effects this adapter does not handle (kube-*, wait) are passed on. */
  next?: EffectApplier;
  /** Each line a process prints, as it arrives (progress displays). */
  onLine?: (line: string) => void;
}

const sysctlPath = (key: string) => `/proc/sys/${key.replace(/\./g, '/')}`;

export class HostApplier implements EffectApplier {
  constructor(private readonly o: HostApplierOptions) {}

  async run(argv: [string, ...string[]], stdin?: string, okExitCodes: number[] = [], logFile?: string): Promise<EffectOutcome> {
    const log = logFile ? await this.o.files.appendStream(logFile) : undefined;
    const onLine = log || this.o.onLine ? (line: string) => (log?.write(`${maskLogLine(line)}\n`), this.o.onLine?.(line)) : undefined;
    const r = await this.o.exec(argv, { stdin, onLine }).finally(() => log?.end());
    const output = `${r.stdout}${r.stderr}`;
    if (argv[0] === 'kubeadm' && (argv[1] === 'init' || argv[1] === 'token')) joinSeen = parseJoinCommand(r.stdout) ?? joinSeen;
    if (r.exitCode !== 0 && !okExitCodes.includes(r.exitCode))
      throw new EffectFailure(`\`${formatArgv(argv)}\` exited with ${r.exitCode}`, output);
    return { changed: true, output };
  }

  /** Live sysctls are read and written through `sysctl`, so a test can run them inside a netns. */
  async readSysctl(key: string): Promise<string | undefined> {
    const r = await this.o.exec(['sysctl', '-n', key]);
    return r.exitCode === 0 ? r.stdout.trim().replace(/\s+/g, ' ') : undefined;
  }

  async apply(effect: Effect): Promise<EffectOutcome> {
    const { files } = this.o;
    switch (effect.kind) {
      case 'file': {
        if ((await files.read(effect.path)) === effect.content) return { changed: false };
        await files.backupFile(this.o.owner, effect.path);
        return { changed: await files.write(effect.path, effect.content, effect.mode) };
      }
      case 'remove': {
        if (!(await files.exists(effect.path))) return { changed: false };
        await files.backupFile(this.o.owner, effect.path);
        return { changed: await files.remove(effect.path) };
      }
      case 'copy': {
        const content = await files.read(effect.from);
        if (content === undefined) throw new EffectFailure(`${effect.from} does not exist`);
        return this.apply({ kind: 'file', path: effect.to, content, mode: effect.mode });
      }
      case 'exec':
        return this.run(effect.argv, effect.stdin, effect.okExitCodes, effect.logFile);
      case 'sysctl': {
        const current = await this.readSysctl(effect.key);
        if (current === undefined) throw new EffectFailure(`sysctl ${effect.key} does not exist (${sysctlPath(effect.key)})`);
        if (current === effect.value) return { changed: false };
        await files.backupSysctl(this.o.owner, effect.key, current);
        await this.run(['sysctl', '-w', `${effect.key}=${effect.value}`]);
        return { changed: true };
      }
      case 'iptables':
        return this.applyIptables(effect.payload);
      case 'nft':
        // plans hold an nft payload only when the live table differs (it is computed from a read just before)
        await this.run(['nft', '-f', '-'], effect.payload);
        return { changed: true };
      default:
        if (!this.o.next) throw new EffectFailure(`no adapter for ${effect.kind} effects here`);
        return this.o.next.apply(effect);
    }
  }

  /** One atomic `iptables-restore --noflush` transaction; unchanged when the chains it touches already match. */
  private async applyIptables(payload: string): Promise<EffectOutcome> {
    const { iptablesRestoreArgv, snapshotTouched } = await import('./iptables.js');
    const before = await snapshotTouched(this.o.exec, payload);
    await this.run(await iptablesRestoreArgv(this.o.exec), payload);
    return { changed: (await snapshotTouched(this.o.exec, payload)) !== before };
  }

  async probe(probe: Probe): Promise<boolean> {
    switch (probe.kind) {
      case 'file-exists':
        return this.o.files.exists(probe.path);
      case 'exec-ok':
        return (await this.o.exec(probe.argv).catch(() => ({ exitCode: 127 }))).exitCode === 0;
      case 'apiserver-ready': {
        const argv: [string, ...string[]] = ['kubectl', '--kubeconfig', this.o.files.path(probe.kubeconfig), 'get', '--raw', '/readyz'];
        return (await this.o.exec(argv, { timeoutMs: 10_000 }).catch(() => ({ exitCode: 127 }))).exitCode === 0;
      }
      case 'all':
        for (const p of probe.probes) if (!(await this.probe(p))) return false;
        return true;
      default:
        if (!this.o.next) throw new EffectFailure(`no adapter answers ${probe.kind} probes here`);
        return this.o.next.probe(probe);
    }
  }
}
