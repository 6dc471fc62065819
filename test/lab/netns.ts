/**
 * A lab of network namespaces for tests that drive the real ip/iptables tools. Names carry a random
 * suffix so that labs never collide; `destroy()` (call it from afterAll) kills the processes the lab
 * started and deletes its namespaces, and an exit hook does the same if a run dies before afterAll.
 * Traffic stays inside the lab: its addresses exist only in its own namespaces.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { createExec, type Exec } from '../../src/host/exec.js';
import type { Argv } from '../../src/runner/types.js';
import { needTools, skipUnless, type Support } from '../helpers/skip.js';

export type LabSupport = Support;

const host = createExec();

/**
 * Whether this machine can run labs: root, the tools every lab drives (ip, iptables) plus `tools`,
 * and `ip netns add` works.
 */
export async function probeLabSupport(tools: readonly string[] = []): Promise<LabSupport> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (ip netns, iptables)' };
  const missing = needTools(['ip', 'iptables', 'iptables-save', ...tools]);
  if (!missing.ok) return missing;
  const probe = `knit-probe-${randomBytes(3).toString('hex')}`;
  try {
    const r = await host(['ip', 'netns', 'add', probe]);
    if (r.exitCode !== 0) return { ok: false, reason: `ip netns add failed: ${r.stderr.trim()}` };
    const ipt = await host(['ip', 'netns', 'exec', probe, 'iptables-save', '-t', 'nat']);
    if (ipt.exitCode !== 0) return { ok: false, reason: `iptables-save failed in a namespace: ${ipt.stderr.trim()}` };
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await host(['ip', 'netns', 'del', probe]).catch(() => undefined);
  }
}

/** describe, skipped with the reason (printed in the run's summary) where the lab cannot run. */
export function describeLab(name: string, support: LabSupport, body: () => void): void {
  if (!support.ok) console.warn(`[lab skipped] ${name}: ${support.reason}`);
  describe(name, skipUnless(support), body);
}

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = () => this.destroySync();

  constructor() {
    process.once('exit', this.onExit);
  }

  /** Creates the namespace `knit-<id>-<role>` with its loopback up. */
  async addNamespace(role: string): Promise<string> {
    const ns = `knit-${this.id}-${role}`;
    await this.host(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.run(ns, ['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** An Exec whose every command runs inside `ns`. */
  exec(ns: string): Exec {
    return createExec({ prefix: ['ip', 'netns', 'exec', ns] });
  }

  /** Runs a command on the host (outside the namespaces); throws with its output when it fails. */
  async host(argv: Argv, stdin?: string): Promise<string> {
    const r = await host(argv, { stdin });
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited with ${r.exitCode}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Runs a command inside `ns`; throws with its output when it fails. */
  run(ns: string, argv: string[], stdin?: string): Promise<string> {
    return this.host(['ip', 'netns', 'exec', ns, ...argv], stdin);
  }

  /** Starts a long-running process inside `ns`; destroy() kills it. */
  spawn(ns: string, argv: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    this.destroySync();
  }

  /** Deleting a namespace also deletes the interfaces in it (veth peers go with their pair). */
  private destroySync(): void {
    for (const c of this.children) if (c.pid !== undefined) c.kill('SIGKILL');
    for (const ns of this.namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
    process.removeListener('exit', this.onExit);
  }
}
