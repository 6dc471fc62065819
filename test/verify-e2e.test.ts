/**
 * `knit verify` end to end against a kubectl that replays recorded cluster states
 * (test/fakes/replay/kubectl, test/fixtures/verify/*.json): the report, the JSON document, the JUnit
 * file and the exit code of each scenario, and the probe namespace deleted every time, Ctrl-C included.
 * Runs the command in-process (its module's `verify`), with the replay fake first on PATH.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createContext } from '../src/command-support/context.js';
import { verify, type VerifyDeps, type VerifyOptions } from '../src/commands/verify.js';
import { probeManifest, probeObjects } from '../src/verify/manifest.js';
import { execa } from 'execa';
import { CancelledError, StepError, UsageError } from '../src/errors.js';

const FAKES = join(import.meta.dirname, 'fakes', 'replay');
const SPECS = join(import.meta.dirname, 'fixtures', 'verify');
const SUFFIX = 'e2e01';
const NAMESPACE = `knit-verify-${SUFFIX}`;

let dir: string;
let savedEnv: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'knit-verify-'));
  writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  savedEnv = { ...process.env };
});
afterEach(() => {
  process.env = savedEnv;
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

interface AppliedObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { containers?: { image: string }[] } } };
}

interface Run {
  code?: number;
  error?: unknown;
  stdout: string;
  stderr: string;
  calls: string[][];
  /** The replay fake's state: live objects, every apply's objects, deleted namespaces. */
  state: { objects: Record<string, AppliedObject>; applies?: AppliedObject[][]; deleted?: string[] };
}

async function runVerify(scenario: string, opts: VerifyOptions & { output?: string }, deps: VerifyDeps = {}, during?: (log: () => string[][]) => void): Promise<Run> {
  const log = join(dir, 'calls.log');
  const statePath = join(dir, 'state.json');
  process.env.PATH = `${FAKES}:${savedEnv.PATH}`;
  process.env.FAKE_KUBE_SCENARIO = scenario;
  process.env.FAKE_KUBE_STATE = statePath;
  process.env.FAKE_LOG = log;
  process.env.KUBECONFIG = join(dir, 'kubeconfig');
  process.env.NO_COLOR = '1';
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []);
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const { output, ...rest } = opts;
  const ctx = createContext({ output: output ?? 'text' }, process.env);
  const result: Partial<Run> = {};
  try {
    const p = verify(rest, ctx, { suffix: SUFFIX, pollMs: 25, ...deps });
    during?.(calls);
    result.code = await p;
  } catch (e) {
    result.error = e;
  } finally {
    vi.restoreAllMocks();
  }
  const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : { objects: {} };
  return { ...result, stdout, stderr, calls: calls(), state } as Run;
}

const deleteCalls = (r: Run) => r.calls.filter((c) => c.includes('delete'));
const expectCleanedUp = (r: Run) => {
  expect(deleteCalls(r)).toEqual([['kubectl', '--kubeconfig', join(dir, 'kubeconfig'), '--request-timeout=30s', 'delete', 'namespace', NAMESPACE, '--wait=false', '--ignore-not-found']]);
  expect(r.state.deleted).toEqual([NAMESPACE]);
  expect(Object.keys(r.state.objects)).toEqual([]);
};
/** The table's rows: RESULT CHECK FROM TO… */
const rows = (stdout: string) => stdout.split('\n').filter((l) => /^(ok|FAIL|skip)\s/.test(l)).map((l) => l.split(/\s{2,}/));
type JsonReport = { summary: { total: number; passed: number; failed: number; skipped: number }; checks: { id: string; kind: string; from: string; to?: string; status: string; detail: string; cause?: string; timedOut?: boolean }[]; namespace: string; cni: string[] };

describe('knit verify against recorded clusters', () => {
  it('healthy: every check passes, exit 0, namespace deleted', async () => {
    const junit = join(dir, 'reports', 'verify.xml');
    const r = await runVerify('healthy', { config: join(SPECS, 'cross-vpc-flannel.yaml'), timeout: '5', junitFile: junit, external: ['192.0.2.50:5432'] });
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);
    const table = rows(r.stdout);
    // 3 nodes: node-ready, cni-pods, probe, exec, logs ×3; pod-pod 3×3; service, dns, internet, external ×3
    expect(table).toHaveLength(15 + 9 + 12);
    expect(table.every((row) => row[0] === 'ok')).toBe(true);
    expect(r.stdout).toContain('36 checks: 36 passed, 0 failed, 0 skipped; namespace knit-verify-e2e01 deleted');
    expect(table).toContainEqual(['ok', 'pod-pod', 'master-1', 'worker-1 (10.244.1.4)', expect.stringMatching(/^answered knit-verify-probe-/)]);
    expect(table).toContainEqual(['ok', 'pod-dns', 'worker-1', 'kubernetes.default.svc.cluster.local', 'resolved to 10.96.0.1']);
    expect(table).toContainEqual(['ok', 'pod-internet', 'worker-2', '223.5.5.5:443', 'connected']);
    expect(table).toContainEqual(['ok', 'pod-external', 'worker-1', '192.0.2.50:5432', 'connected']);
    expectCleanedUp(r);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="knit verify" tests="36" failures="0" errors="0" skipped="0" time="[\d.]+">/);
    expect(xml.match(/<testcase /g)).toHaveLength(36);
    expect(xml).not.toContain('<failure');
    // the probe went in as data the apiserver accepts, pinned busybox from upstream (no mirror)
    const apply = r.calls.find((c) => c.includes('apply'))!;
    expect(apply.slice(4)).toEqual(['apply', '--server-side', '--field-manager=knit', '-f', '-']);
    expect(r.state.applies?.[0]?.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      `Namespace /${NAMESPACE}`,
      `DaemonSet ${NAMESPACE}/knit-verify-probe`,
      `Service ${NAMESPACE}/knit-verify-probe`,
    ]);
    expect(r.state.applies?.[0]?.[1]?.spec?.template?.spec?.containers?.[0]?.image).toBe('busybox:1.37');
    // every kubectl exec ran a busybox argv in a probe pod, container named
    const execs = r.calls.filter((c) => c.includes('exec'));
    expect(execs).toHaveLength(3 + 9 + 12);
    for (const c of execs) expect(c.slice(4, 10)).toEqual(['exec', '-n', NAMESPACE, expect.stringMatching(/^knit-verify-probe-/), '-c', 'probe']);
  });

  it('healthy, -o json: one JSON document naming every check', async () => {
    const r = await runVerify('healthy', { config: join(SPECS, 'cross-vpc-flannel.yaml'), output: 'json' });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as JsonReport;
    expect(doc.summary).toEqual({ total: 33, passed: 33, failed: 0, skipped: 0 });
    expect(doc.cni).toEqual(['flannel']);
    expect(doc.namespace).toBe(NAMESPACE);
    expect(doc.checks.map((c) => c.id)).toContain('pod-pod/worker-1/master-1');
    expectCleanedUp(r);
  });

  it('node-notready: names the node and its CNI pod, checks the rest, exit 1', async () => {
    const junit = join(dir, 'verify.xml');
    const r = await runVerify('node-notready', { config: join(SPECS, 'cross-vpc-flannel.yaml'), timeout: '1', junitFile: junit, output: 'json' });
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not every node is Ready with its CNI pods Running after 1s');
    const doc = JSON.parse(r.stdout) as JsonReport;
    const byId = (id: string) => doc.checks.find((c) => c.id === id)!;
    expect(byId('node-ready/worker-1')).toMatchObject({ status: 'fail', detail: expect.stringContaining('NetworkPluginNotReady'), cause: expect.stringContaining('the CNI is not running on worker-1') });
    expect(byId('cni-pods/worker-1')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/kube-flannel\/kube-flannel-ds-\w+ is Running \(CrashLoopBackOff\)/), cause: expect.stringContaining('keeps failing') });
    expect(byId('node-ready/master-1').status).toBe('pass');
    // the pair with the NotReady node is skipped, not failed; the others are checked
    expect(byId('pod-pod/master-1/worker-1')).toMatchObject({ status: 'skip', detail: 'worker-1 is not Ready' });
    expect(byId('pod-pod/master-1/worker-2').status).toBe('pass');
    expect(byId('exec/worker-1')).toMatchObject({ status: 'skip' });
    expect(doc.checks.find((c) => c.id === 'probe/worker-1')).toBeUndefined();
    expect(doc.summary.failed).toBe(2);
    expectCleanedUp(r);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testcase classname="knit.verify.node-ready" name="worker-1"');
    expect(xml).toMatch(/<failure message="worker-1: the CNI is not running on worker-1[^"]*" type="node-ready">/);
    expect(xml).toMatch(/<skipped message="worker-1 is not Ready"\/>/);
  });

  it('internet-fails (Terway): pod → internet fails on every node with the SNAT cause, exit 1', async () => {
    const junit = join(dir, 'verify.xml');
    const r = await runVerify('internet-fails', { config: join(SPECS, 'terway.yaml'), timeout: '5', junitFile: junit, external: ['198.51.100.50:5432'] });
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(1);
    const table = rows(r.stdout);
    expect(table.filter((row) => row[0] === 'FAIL')).toEqual([
      ['FAIL', 'pod-internet', 'cp-1', '223.5.5.5:443', 'nc: timed out'],
      ['FAIL', 'pod-internet', 'worker-1', '223.5.5.5:443', 'nc: timed out'],
    ]);
    expect(r.stdout).toContain('  pod-internet worker-1 → 223.5.5.5:443: nc: timed out\n    likely cause: pods on worker-1 cannot reach the internet: Terway pods use vSwitch addresses');
    expect(r.stdout).toContain('SNAT for the pod vSwitch');
    expect(table).toContainEqual(['ok', 'pod-external', 'worker-1', '198.51.100.50:5432', 'connected']);
    expect(table).toContainEqual(['ok', 'cni-pods', 'cp-1', 'kube-system/terway-eniip', '1 Running']);
    // mirror: cn pulls the probe through the mirror too
    const ds = r.state.applies?.[0]?.find((o) => o.kind === 'DaemonSet');
    expect(ds?.spec?.template?.spec?.containers?.[0]?.image).toBe('m.daocloud.io/docker.io/library/busybox:1.37');
    expectCleanedUp(r);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<failure /g)).toHaveLength(2);
    expect(xml).toContain('<testcase classname="knit.verify.pod-internet" name="cp-1 → 223.5.5.5:443"');
  });

  it('exec-timeout: kubectl exec/logs on worker-1 time out, the kubelet cause names the VPCs, exit 1', async () => {
    // no spec file: the CNI is found from its DaemonSet, the VPCs from the InternalIPs
    const junit = join(dir, 'verify.xml');
    const r = await runVerify('exec-timeout', { timeout: '5', checkTimeout: '1', junitFile: junit });
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(1);
    // --check-timeout went to every exec/logs call, and it is what ended worker-1's: kubectl's client timeout
    // (the recorded apiserver answers only after 30 s, with a dial error that must not be what the report shows)
    const execs = r.calls.filter((c) => c.includes('exec') || c.includes('logs'));
    expect(execs.length).toBeGreaterThan(0);
    expect(execs.every((c) => c.includes('--request-timeout=1s'))).toBe(true);
    const table = rows(r.stdout);
    expect(table.filter((row) => row[0] === 'FAIL').map((row) => row.slice(0, 3))).toEqual([
      ['FAIL', 'exec', 'worker-1'],
      ['FAIL', 'logs', 'worker-1'],
    ]);
    for (const row of table.filter((row) => row[0] === 'FAIL'))
      expect(row.at(-1)).toMatch(/^kubectl (exec|logs) failed: Unable to connect to the server: .*\(Client\.Timeout exceeded while awaiting headers\)$/);
    expect(r.stdout).not.toContain('i/o timeout');
    expect(table.filter((row) => row[0] === 'skip').map((row) => row.at(-1))).toEqual(Array(6).fill("kubectl exec into worker-1's probe pod failed (timed out)"));
    expect(table.filter((row) => row[0] === 'skip').map((row) => `${row[1]} ${row[2]}`)).toEqual([
      'pod-pod worker-1',
      'pod-pod worker-1',
      'pod-pod worker-1',
      'pod-service worker-1',
      'pod-dns worker-1',
      'pod-internet worker-1',
    ]);
    // pods elsewhere still reach worker-1's pod: only apiserver → kubelet is broken
    expect(table).toContainEqual(['ok', 'pod-pod', 'master-1', 'worker-1 (10.244.1.4)', expect.any(String)]);
    expect(r.stdout).toMatch(/likely cause: the apiserver cannot reach the kubelet on worker-1 \(TCP 10250 at 172\.17\.0\.20\): worker-1 is in another VPC than the control plane \(master-1\)/);
    expect(r.stdout).toContain('knit crossvpc status');
    expect(r.stdout).toContain('Client.Timeout exceeded');
    expectCleanedUp(r);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase classname="knit\.verify\.exec" name="worker-1" time="[\d.]+">\n\s+<failure message="worker-1: the apiserver cannot reach the kubelet on worker-1/);
    expect(xml.match(/<skipped /g)).toHaveLength(6);
    // the CNI was detected from the cluster
    expect(r.calls.some((c) => c.includes('daemonsets') && c.includes('--all-namespaces'))).toBe(true);
    expect(table).toContainEqual(['ok', 'cni-pods', 'worker-1', 'kube-flannel/kube-flannel-ds', '1 Running']);
  });

  it('Ctrl-C while checking: the namespace is deleted, then exit 130', async () => {
    const signals = new EventEmitter();
    let interrupted = false;
    const r = await runVerify('exec-timeout', { timeout: '5', checkTimeout: '2' }, { signals: signals as never }, (calls) => {
      // interrupt once the checks run (a kubectl exec started)
      const timer = setInterval(() => {
        if (!interrupted && calls().some((c) => c.includes('exec'))) {
          interrupted = true;
          clearInterval(timer);
          signals.emit('SIGINT');
        }
      }, 10);
    });
    expect(interrupted).toBe(true);
    expect(r.error).toBeInstanceOf(CancelledError);
    expect((r.error as CancelledError).exitCode).toBe(130);
    expect(r.stderr).toContain('cancelling: deleting the probe namespace first');
    expectCleanedUp(r);
    // nothing was reported as a result
    expect(rows(r.stdout)).toEqual([]);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('Ctrl-C twice: quits at once', async () => {
    const signals = new EventEmitter();
    const forceExit = vi.fn();
    const r = await runVerify('node-notready', { timeout: '2' }, { signals: signals as never, forceExit }, () => {
      setTimeout(() => {
        signals.emit('SIGINT');
        signals.emit('SIGINT');
      }, 100);
    });
    expect(forceExit).toHaveBeenCalledTimes(1);
    expect(r.error).toBeInstanceOf(CancelledError);
    // interrupted while waiting for the nodes: no probe was deployed, nothing to delete
    expect(deleteCalls(r)).toEqual([]);
  });

  it('--keep leaves the namespace and says how to delete it', async () => {
    const r = await runVerify('healthy', { config: join(SPECS, 'cross-vpc-flannel.yaml'), keep: true });
    expect(r.code).toBe(0);
    expect(deleteCalls(r)).toEqual([]);
    expect(r.stderr).toContain(`kept namespace ${NAMESPACE} (--keep); delete it with: kubectl delete namespace ${NAMESPACE}`);
    expect(r.stdout).toContain(`namespace ${NAMESPACE} kept`);
  });

  it('a cluster that cannot be read fails at once, with kubectl\'s message, nothing deployed', async () => {
    const r = await runVerify('healthy', { kubeconfig: join(dir, 'missing.conf') });
    expect(r.error).toBeInstanceOf(StepError);
    expect((r.error as StepError).message).toMatch(/^cannot read the cluster: .*stat .*missing\.conf: no such file or directory/);
    // at once: the first read failed and nothing was tried again or waited for
    expect(r.calls).toHaveLength(1);
    expect(r.calls.some((c) => c.includes('apply'))).toBe(false);
    expect(deleteCalls(r)).toEqual([]);
  });

  it('bad input is a usage error before kubectl runs', async () => {
    for (const opts of [{ external: ['db.internal'] }, { internet: '223.5.5.5:99999' }, { timeout: 'soon' }]) {
      const r = await runVerify('healthy', opts);
      expect(r.error).toBeInstanceOf(UsageError);
      expect(r.calls).toEqual([]);
    }
  });
});

describe('the replay kubectl refuses what kubectl would', () => {
  const kubectl = (args: string[], input = '') =>
    execa(join(FAKES, 'kubectl'), args, { reject: false, input, env: { FAKE_KUBE_SCENARIO: 'healthy', FAKE_KUBE_STATE: join(dir, 'state.json') } });
  it.each([
    [['frobnicate'], /unknown command "frobnicate" for "kubectl"/],
    [['get', 'nodes', '--bogus', '-o', 'json'], /unknown flag: --bogus/],
    [['get', 'widgets', '-o', 'json'], /doesn't have a resource type "widgets"/],
    [['--request-timeout=soon', 'get', 'nodes', '-o', 'json'], /invalid argument "soon" for "--request-timeout"/],
    [['exec', '-n', 'kube-system', 'nope', '--', 'true'], /pods "nope" not found/],
    [['exec', '-n', 'kube-system', 'nope'], /you must specify at least one command/],
    [['delete', 'namespace', 'kube-system', '--wait=maybe'], /invalid argument "maybe" for "--wait"/],
  ])('%j', async (args, message) => {
    const r = await kubectl(args);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(message);
  });
  it('apply checks each object like the apiserver', async () => {
    const bad = [
      ['apiVersion: v1\nkind: Namespace\nmetadata: {}\n', /apiVersion, kind and metadata.name are required/],
      ['apiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: ghost }\nspec: { ports: [{ port: 80 }] }\n', /namespaces "ghost" not found/],
      ['apiVersion: v1\nkind: DaemonSet\nmetadata: { name: d, namespace: default }\n', /no matches for kind "DaemonSet" in version "v1"/],
      [
        'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: { name: d, namespace: default }\nspec: { selector: { matchLabels: { a: b } }, template: { metadata: { labels: { a: c } }, spec: { containers: [{ name: c, image: i }] } } }\n',
        /selector` does not match template `labels`/,
      ],
    ] as const;
    for (const [doc, message] of bad) {
      const r = await kubectl(['apply', '--server-side', '-f', '-'], doc);
      expect(r.exitCode, doc).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    const ok = await kubectl(['apply', '--server-side', '--field-manager=knit', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: { name: scratch }\n');
    expect(ok.stdout).toBe('namespace/scratch serverside-applied');
  });
  it('a command busybox does not have fails inside the pod, as kubectl reports it', async () => {
    await kubectl(['apply', '--server-side', '-f', '-'], probeYaml);
    const pods = JSON.parse((await kubectl(['get', 'pods', '-n', 'knit-verify-x', '-o', 'json'])).stdout) as { items: { metadata: { name: string } }[] };
    expect(pods.items).toHaveLength(3);
    const r = await kubectl(['exec', '-n', 'knit-verify-x', pods.items[0]!.metadata.name, '-c', 'probe', '--', 'curl', 'http://x']);
    expect(r.exitCode).toBe(126);
    expect(r.stderr).toBe('command terminated with exit code 126');
    expect(r.stdout).toContain('executable file not found in $PATH');
  });
});

const probeYaml = probeManifest(probeObjects('x', { mirror: 'none' }));
