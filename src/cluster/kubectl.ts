/** The cluster adapter: kube-apply, kube-annotate and wait effects through kubectl (argv only). */
import type { Exec } from '../host/exec.js';
import { formatArgv } from '../runner/describe.js';
import type { Argv, Effect, EffectApplier, EffectOutcome, Probe } from '../runner/types.js';

export class KubectlError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

export class KubectlApplier implements EffectApplier {
  /** `kubeconfig` is a real path (the host root already applied). */
  constructor(
    private readonly exec: Exec,
    private readonly kubeconfig: string,
  ) {}

  private async kubectl(args: string[], stdin?: string): Promise<string> {
    const argv: Argv = ['kubectl', '--kubeconfig', this.kubeconfig, ...args];
    const r = await this.exec(argv, { stdin });
    if (r.exitCode !== 0) throw new KubectlError(`\`${formatArgv(argv)}\` exited with ${r.exitCode}`, `${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  async apply(effect: Effect): Promise<EffectOutcome> {
    switch (effect.kind) {
      case 'kube-apply': {
        const out = await this.kubectl(['apply', '--server-side', '--field-manager=knit', '-f', '-'], effect.yaml);
        // kubectl reports each object as "created", "configured", "serverside-applied" or "unchanged"
        return { changed: out.split('\n').some((l) => l.trim() !== '' && !/ unchanged$/.test(l)), output: out };
      }
      case 'kube-annotate': {
        const current = JSON.parse(await this.kubectl(['get', 'node', effect.node, '-o', 'jsonpath={.metadata.annotations}']) || '{}') as Record<string, string>;
        // null removes (`key-`); an absent annotation already is what null asks for
        const missing = Object.entries(effect.annotations).filter(([k, v]) => (v === null ? k in current : current[k] !== v));
        if (missing.length === 0) return { changed: false };
        await this.kubectl(['annotate', '--overwrite', 'node', effect.node, ...missing.map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`))]);
        return { changed: true };
      }
      case 'wait': {
        const t = effect.target;
        const timeout = `--timeout=${effect.timeoutS}s`;
        const args =
          t.kind === 'node-ready'
            ? ['wait', '--for=condition=Ready', `node/${t.node}`, timeout]
            : t.kind === 'rollout'
              ? ['rollout', 'status', `${t.resource}/${t.name}`, '-n', t.namespace, timeout]
              : ['wait', '--for=condition=Established', ...t.names.map((n) => `crd/${n}`), timeout];
        await this.kubectl(args);
        return { changed: false };
      }
      default:
        throw new Error(`the kubectl adapter does not handle ${effect.kind} effects`);
    }
  }

  async probe(probe: Probe): Promise<boolean> {
    if (probe.kind !== 'kube-in-sync') throw new Error(`the kubectl adapter does not answer ${probe.kind} probes`);
    // diff exits 0 when nothing would change, 1 when something would; anything else (no CRD yet,
    // apiserver away) means "not known to be in sync": apply, and let apply report the real error
    const argv: Argv = ['kubectl', '--kubeconfig', this.kubeconfig, 'diff', '--server-side', '--field-manager=knit', '-f', '-'];
    const r = await this.exec(argv, { stdin: probe.yaml }).catch(() => ({ exitCode: -1 }));
    return r.exitCode === 0;
  }
}
