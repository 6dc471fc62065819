/** knit verify's pure half: the probe manifest, reading kubectl's JSON, the check plan, verdicts, causes, the report and JUnit XML. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PLUGINS } from '../src/cni/index.js';
import { loadSpec } from '../src/spec/load.js';
import { evaluate, parseHostPort, planChecks, probeResults, skipAfterExec, DEFAULT_INTERNET } from '../src/verify/checks.js';
import { likelyCause } from '../src/verify/causes.js';
import { assessReadiness, parseNodes, parsePods, readinessResults, serviceIP } from '../src/verify/cluster-state.js';
import { PROBE_IMAGE, probeManifest, probeNamespace, probeObjects } from '../src/verify/manifest.js';
import { escapeXml, exitCodeOf, formatReport, junitXml, ordered, reportJson, summarize, type ReportMeta } from '../src/verify/report.js';
import type { CauseContext, Check, CheckResult, ClusterNode, ClusterPod } from '../src/verify/types.js';

const scenario = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'verify', `${name}.json`), 'utf8'));
const spec = loadSpec({ file: { name: 'f', text: readFileSync(join(import.meta.dirname, 'fixtures', 'verify', 'cross-vpc-flannel.yaml'), 'utf8') }, hostname: 'x' }).spec;
const flannelRollouts = PLUGINS.flannel.rollouts(spec);

const node = (name: string, ip: string, over: Partial<ClusterNode> = {}): ClusterNode => ({ name, ready: true, internalIP: ip, controlPlane: false, ...over });
const NODES = [node('master-1', '172.16.0.10', { controlPlane: true }), node('worker-1', '172.17.0.20'), node('worker-2', '172.16.0.11')];
const probePod = (n: string, ip: string, over: Partial<ClusterPod> = {}): ClusterPod => ({
  namespace: 'knit-verify-t1',
  name: `knit-verify-probe-${n}`,
  node: n,
  ip,
  phase: 'Running',
  ready: true,
  owner: 'knit-verify-probe',
  ownerKind: 'DaemonSet',
  ...over,
});
const PODS = [probePod('master-1', '10.244.0.7'), probePod('worker-1', '10.244.1.4'), probePod('worker-2', '10.244.2.5')];
const INPUT = { nodes: NODES, probePods: PODS, serviceIP: '10.101.148.23', dnsName: 'kubernetes.default.svc.cluster.local', internet: parseHostPort(DEFAULT_INTERNET)!, externals: [] };

const ctx = (over: Partial<CauseContext> = {}): CauseContext => ({
  plugins: ['flannel'],
  datapathNeeds: ['8472/udp (flannel VXLAN)'],
  nodes: NODES,
  crossVpc: (a, b) => (a === 'worker-1') !== (b === 'worker-1'),
  serviceIP: '10.101.148.23',
  dnsName: 'kubernetes.default.svc.cluster.local',
  probeImage: PROBE_IMAGE,
  ...over,
});
const check = (over: Partial<Check> & Pick<Check, 'kind'>): Check => ({ id: `${over.kind}/x`, from: 'worker-1', target: 't', ...over });
const fail = (c: Check, detail: string, over: Partial<CheckResult> = {}): CheckResult => ({ check: c, status: 'fail', detail, durationMs: 5, ...over });
const META: ReportMeta = { namespace: 'knit-verify-t1', cleanup: 'deleted', plugins: ['flannel'], durationMs: 1234 };

describe('the probe manifest', () => {
  it('a namespace of its own, a DaemonSet on every node, a ClusterIP Service', () => {
    const p = probeObjects('t1', { mirror: 'none' });
    expect(p.namespace).toBe('knit-verify-t1');
    const docs = parseAllDocuments(probeManifest(p)).map((d) => d.toJS());
    expect(docs.map((d) => `${d.apiVersion} ${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`)).toEqual([
      'v1 Namespace /knit-verify-t1',
      'apps/v1 DaemonSet knit-verify-t1/knit-verify-probe',
      'v1 Service knit-verify-t1/knit-verify-probe',
    ]);
    const ds = docs[1];
    const pod = ds.spec.template.spec;
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'knit-verify-probe' });
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
    expect(pod.containers[0]).toMatchObject({ name: 'probe', image: 'busybox:1.37', command: ['httpd', '-f', '-v', '-p', '8080', '-h', '/www'] });
    expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    // GET /name answers the pod's own name
    expect(pod.volumes[0].downwardAPI.items).toEqual([{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }]);
    expect(docs[2].spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 80, targetPort: 'http' }], selector: ds.spec.selector.matchLabels });
    expect(docs[0].metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('the image follows the mirror and the private registry', () => {
    expect(probeObjects('a', { mirror: 'cn' }).image).toBe('m.daocloud.io/docker.io/library/busybox:1.37');
    expect(probeObjects('a', { mirror: 'none', registry: 'registry.example.com:5000/mirror' }).image).toBe('registry.example.com:5000/mirror/library/busybox:1.37');
  });

  it('refuses a suffix that would not make a namespace name', () => {
    expect(() => probeNamespace('Bad_Suffix')).toThrow(/must be 1-12 characters/);
    expect(() => probeNamespace('')).toThrow();
    expect(probeNamespace('0a9f3c')).toBe('knit-verify-0a9f3c');
  });
});

describe("reading kubectl's JSON", () => {
  it('nodes: Ready, why not, InternalIP, control plane', () => {
    const nodes = parseNodes(scenario('node-notready').nodes);
    expect(nodes.map((n) => [n.name, n.ready, n.internalIP, n.controlPlane])).toEqual([
      ['master-1', true, '172.16.0.10', true],
      ['worker-1', false, '172.17.0.20', false],
      ['worker-2', true, '172.16.0.11', false],
    ]);
    expect(nodes[1]).toMatchObject({ readyReason: 'KubeletNotReady', readyMessage: expect.stringContaining('NetworkPluginNotReady') });
    expect(parseNodes({ items: [{ metadata: { name: 'n' }, status: {} }] })[0]).toMatchObject({ ready: false, readyReason: 'no Ready condition' });
  });

  it('pods: owner workload (a ReplicaSet means its Deployment), readiness, the reason it is not ready', () => {
    const pods = parsePods(scenario('node-notready').pods);
    const coredns = pods.find((p) => p.name.startsWith('coredns-'))!;
    expect(coredns).toMatchObject({ owner: 'coredns', ownerKind: 'Deployment', ready: true, ip: '10.244.0.2' });
    const crashing = pods.find((p) => p.namespace === 'kube-flannel' && p.node === 'worker-1')!;
    expect(crashing).toMatchObject({ owner: 'kube-flannel-ds', ownerKind: 'DaemonSet', ready: false, reason: 'CrashLoopBackOff' });
    expect(parsePods({ items: [{ metadata: { name: 'p', namespace: 'n' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } }] })[0]).toMatchObject({ ready: false, reason: 'Unschedulable' });
    expect(serviceIP({ metadata: { name: 's' }, spec: { clusterIP: 'None' } })).toBeUndefined();
  });

  it('readiness: done only with every node Ready and a Running CNI pod on each', () => {
    const healthy = scenario('healthy');
    expect(assessReadiness(parseNodes(healthy.nodes), parsePods(healthy.pods), flannelRollouts)).toEqual({ done: true, summary: 'nodes Ready 3/3, CNI pods Running 3/3' });
    const nr = scenario('node-notready');
    const [nodes, pods] = [parseNodes(nr.nodes), parsePods(nr.pods)];
    expect(assessReadiness(nodes, pods, flannelRollouts)).toEqual({ done: false, summary: 'nodes Ready 2/3, CNI pods Running 2/3' });
    const results = readinessResults(nodes, pods, flannelRollouts);
    expect(results.filter((r) => r.status === 'fail').map((r) => r.check.id)).toEqual(['node-ready/worker-1', 'cni-pods/worker-1']);
    // a CNI not installed at all: every node is missing its pod
    const none = readinessResults(nodes, [], flannelRollouts).filter((r) => r.check.kind === 'cni-pods');
    expect(none.map((r) => r.detail)).toEqual(['master-1', 'worker-1', 'worker-2'].map((n) => `no pod of kube-flannel/kube-flannel-ds on ${n}`));
  });
});

describe('the check plan', () => {
  it('exec and logs per node; pod → pod for every pair; Service, DNS, internet, external per node', () => {
    const plan = planChecks({ ...INPUT, externals: [{ host: '192.0.2.50', port: 5432 }] });
    expect(plan.skipped).toEqual([]);
    expect(plan.kubelet.map((c) => c.id)).toEqual(['exec/master-1', 'logs/master-1', 'exec/worker-1', 'logs/worker-1', 'exec/worker-2', 'logs/worker-2']);
    const kinds = (k: string) => plan.inPod.filter((c) => c.kind === k);
    expect(kinds('pod-pod')).toHaveLength(9);
    expect(kinds('pod-service')).toHaveLength(3);
    expect(kinds('pod-dns')).toHaveLength(3);
    expect(kinds('pod-internet')).toHaveLength(3);
    expect(kinds('pod-external')).toHaveLength(3);
    const byId = (id: string) => [...plan.kubelet, ...plan.inPod].find((c) => c.id === id)!;
    expect(byId('pod-pod/master-1/worker-1')).toEqual({
      id: 'pod-pod/master-1/worker-1',
      kind: 'pod-pod',
      from: 'master-1',
      to: 'worker-1',
      pod: 'knit-verify-probe-master-1',
      target: '10.244.1.4',
      argv: ['wget', '-q', '-T', '3', '-O-', 'http://10.244.1.4:8080/name'],
      expect: ['knit-verify-probe-worker-1'],
    });
    expect(byId('pod-service/worker-1').argv).toEqual(['wget', '-q', '-T', '3', '-O-', 'http://10.101.148.23:80/name']);
    expect(byId('pod-service/worker-1').expect).toEqual(PODS.map((p) => p.name));
    expect(byId('pod-dns/worker-2').argv).toEqual(['nslookup', 'kubernetes.default.svc.cluster.local']);
    expect(byId('pod-internet/worker-2').argv).toEqual(['nc', '-z', '-w', '3', '223.5.5.5', '443']);
    expect(byId('pod-external/worker-2/192.0.2.50:5432').argv).toEqual(['nc', '-z', '-w', '3', '192.0.2.50', '5432']);
    expect(byId('exec/worker-1')).toMatchObject({ argv: ['hostname'], expect: ['knit-verify-probe-worker-1'], pod: 'knit-verify-probe-worker-1' });
  });

  it('a node without a usable probe pod: its checks and the pairs to it are skipped, saying why', () => {
    const nodes = [NODES[0]!, node('worker-1', '172.17.0.20', { ready: false }), NODES[2]!];
    const pods = [PODS[0]!, probePod('worker-1', '', { ip: undefined, ready: false, phase: 'Pending', reason: 'ContainerCreating' }), probePod('worker-2', '10.244.2.5', { ready: false, reason: 'ImagePullBackOff' })];
    const plan = planChecks({ ...INPUT, nodes, probePods: pods });
    expect(plan.kubelet.map((c) => c.id)).toEqual(['exec/master-1', 'logs/master-1']);
    expect(plan.inPod.map((c) => c.id)).toEqual(['pod-pod/master-1/master-1', 'pod-service/master-1', 'pod-dns/master-1', 'pod-internet/master-1']);
    const skipped = Object.fromEntries(plan.skipped.map((r) => [r.check.id, r.detail]));
    expect(skipped['pod-pod/master-1/worker-1']).toBe('worker-1 is not Ready');
    expect(skipped['pod-pod/master-1/worker-2']).toBe('no Ready probe pod on worker-2');
    expect(skipped['exec/worker-2']).toBe('no Ready probe pod on worker-2');
    expect(plan.skipped.every((r) => r.status === 'skip')).toBe(true);
    // probe results: Ready nodes only, with the pod's state
    expect(probeResults(nodes, pods, PROBE_IMAGE).map((r) => [r.check.id, r.status, r.detail])).toEqual([
      ['probe/master-1', 'pass', 'knit-verify-probe-master-1 Running at 10.244.0.7'],
      ['probe/worker-2', 'fail', 'knit-verify-probe-worker-2 is Running (ImagePullBackOff)'],
    ]);
  });

  it('host:port targets', () => {
    expect(parseHostPort('223.5.5.5:443')).toEqual({ host: '223.5.5.5', port: 443 });
    expect(parseHostPort('db.example.com:5432')).toEqual({ host: 'db.example.com', port: 5432 });
    for (const bad of ['db.example.com', '1.2.3:80', 'host:0', 'host:65536', ':80', 'a b:1', 'http://x:80', '-x:80']) expect(parseHostPort(bad), bad).toBeUndefined();
  });
});

describe('verdicts from kubectl answers', () => {
  const podPod = planChecks(INPUT).inPod.find((c) => c.id === 'pod-pod/master-1/worker-1')!;
  it('the expected answer passes; another pod answering fails', () => {
    expect(evaluate(podPod, { exitCode: 0, stdout: 'knit-verify-probe-worker-1\n', stderr: '', durationMs: 12 })).toMatchObject({ status: 'pass', detail: 'answered knit-verify-probe-worker-1' });
    expect(evaluate(podPod, { exitCode: 0, stdout: 'knit-verify-probe-worker-2\n', stderr: '', durationMs: 12 })).toMatchObject({
      status: 'fail',
      detail: 'answered "knit-verify-probe-worker-2", expected knit-verify-probe-worker-1',
    });
  });
  it('the command failing inside the pod vs kubectl failing', () => {
    const inside = evaluate(podPod, { exitCode: 1, stdout: '', stderr: 'wget: download timed out\ncommand terminated with exit code 1\n', durationMs: 3000 });
    expect(inside).toMatchObject({ status: 'fail', detail: 'wget: download timed out', timedOut: true });
    const kubectl = evaluate(podPod, { exitCode: 1, stdout: '', stderr: 'Error from server: error dialing backend: dial tcp 172.17.0.20:10250: i/o timeout\n', durationMs: 30000 });
    expect(kubectl).toMatchObject({ status: 'fail', detail: 'kubectl exec failed: Error from server: error dialing backend: dial tcp 172.17.0.20:10250: i/o timeout', timedOut: true });
    const killed = evaluate(podPod, { exitCode: 1, stdout: '', stderr: '', durationMs: 15000, killed: true });
    expect(killed).toMatchObject({ status: 'fail', detail: 'no answer within 15s', timedOut: true });
  });
  it('DNS names the addresses it resolved (not the server); logs pass on exit 0', () => {
    const dns = planChecks(INPUT).inPod.find((c) => c.kind === 'pod-dns')!;
    const out = 'Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n\n';
    expect(evaluate(dns, { exitCode: 0, stdout: out, stderr: '', durationMs: 3 }).detail).toBe('resolved to 10.96.0.1');
    const logs = planChecks(INPUT).kubelet.find((c) => c.kind === 'logs')!;
    expect(evaluate(logs, { exitCode: 0, stdout: '', stderr: '', durationMs: 3 })).toMatchObject({ status: 'pass', detail: 'logs read' });
  });
  it('checks inside a pod that cannot be exec-ed into are skipped', () => {
    const exec = fail(check({ kind: 'exec' }), 'kubectl exec failed: …', { timedOut: true });
    expect(skipAfterExec(podPod, exec)).toMatchObject({ status: 'skip', detail: "kubectl exec into master-1's probe pod failed (timed out)" });
  });
});

describe('likely causes', () => {
  it('pod → pod across VPCs: the datapath ports and the address map', () => {
    const c = likelyCause(fail(check({ kind: 'pod-pod', from: 'master-1', to: 'worker-1' }), 'wget: download timed out'), ctx())!;
    expect(c).toContain('between master-1 and worker-1 (different VPCs) is blocked');
    expect(c).toContain('8472/udp (flannel VXLAN)');
    expect(c).toContain('knit crossvpc status');
    expect(c).toContain('address map must be in place on both');
    const same = likelyCause(fail(check({ kind: 'pod-pod', from: 'master-1', to: 'worker-2' }), 'x'), ctx())!;
    expect(same).toBe('the CNI data path between master-1 and worker-2 is blocked: the security group and firewalld on both nodes must allow 8472/udp (flannel VXLAN) between them');
    expect(likelyCause(fail(check({ kind: 'pod-pod', from: 'worker-2', to: 'worker-2' }), 'x'), ctx())).toContain('between its own pods');
  });
  it('pod → internet: Terway needs SNAT for the pod vSwitch; overlays need masquerade', () => {
    const r = fail(check({ kind: 'pod-internet', target: '223.5.5.5:443' }), 'nc: timed out');
    expect(likelyCause(r, ctx({ plugins: ['terway'] }))).toContain('SNAT entry for the pod vSwitch');
    expect(likelyCause(r, ctx())).toContain("flannel's --ip-masq");
    expect(likelyCause(fail(check({ kind: 'pod-internet', target: 'mirrors.aliyun.com:443' }), 'x'), ctx())).toContain('is a name: check pod → DNS');
  });
  it('exec/logs: the apiserver cannot reach the kubelet, across VPCs or not', () => {
    const timedOut = fail(check({ kind: 'exec', from: 'worker-1' }), 'kubectl exec failed: …', { timedOut: true });
    expect(likelyCause(timedOut, ctx())).toMatch(/^the apiserver cannot reach the kubelet on worker-1 \(TCP 10250 at 172\.17\.0\.20\): worker-1 is in another VPC than the control plane \(master-1\)/);
    const sameVpc = fail(check({ kind: 'logs', from: 'worker-2' }), 'kubectl logs failed: dial tcp 172.16.0.11:10250: connect: connection refused');
    expect(likelyCause(sameVpc, ctx())).toContain("worker-2's security group or firewalld must allow TCP 10250 from the control plane");
    expect(likelyCause(fail(check({ kind: 'exec' }), 'kubectl exec failed: container not found'), ctx())).toBe('kubectl could not exec into the probe pod on worker-1: kubectl exec failed: container not found');
  });
  it('every kind has a cause; passes and skips have none', () => {
    for (const kind of ['node-ready', 'cni-pods', 'probe', 'exec', 'logs', 'pod-pod', 'pod-service', 'pod-dns', 'pod-internet', 'pod-external'] as const)
      expect(likelyCause(fail(check({ kind, to: kind === 'pod-pod' ? 'master-1' : undefined }), 'x'), ctx()), kind).toMatch(/\S/);
    expect(likelyCause({ ...fail(check({ kind: 'exec' }), 'x'), status: 'pass' }, ctx())).toBeUndefined();
    expect(likelyCause(fail(check({ kind: 'probe' }), 'knit-verify-probe-x is Pending (ImagePullBackOff)'), ctx())).toContain('--mirror cn');
  });
});

describe('the report', () => {
  const results: CheckResult[] = [
    fail(check({ id: 'pod-pod/master-1/worker-1', kind: 'pod-pod', from: 'master-1', to: 'worker-1', target: '10.244.1.4', argv: ['wget', 'x'] }), 'wget: download timed out', {
      output: 'wget: download timed out\ncommand terminated with exit code 1\n',
    }),
    { check: check({ id: 'node-ready/master-1', kind: 'node-ready', from: 'master-1', target: 'Ready condition' }), status: 'pass', detail: 'Ready', durationMs: 0 },
    { check: check({ id: 'pod-dns/worker-1', kind: 'pod-dns', target: 'kubernetes.default.svc.cluster.local' }), status: 'skip', detail: "kubectl exec into worker-1's probe pod failed (timed out)", durationMs: 0 },
  ];

  it('orders by kind, counts, exits 1 on a failure only', () => {
    expect(ordered(results).map((r) => r.check.kind)).toEqual(['node-ready', 'pod-pod', 'pod-dns']);
    expect(summarize(results)).toEqual({ total: 3, passed: 1, failed: 1, skipped: 1 });
    expect(exitCodeOf(results)).toBe(1);
    expect(exitCodeOf([results[1]!, results[2]!])).toBe(0);
  });

  it('a table, the failures with their cause, a summary', () => {
    const lines = formatReport(results, ctx(), META);
    expect(lines.slice(0, 4)).toEqual([
      'RESULT  CHECK       FROM      TO                                    DETAIL',
      'ok      node-ready  master-1  Ready condition                       Ready',
      'FAIL    pod-pod     master-1  worker-1 (10.244.1.4)                 wget: download timed out',
      "skip    pod-dns     worker-1  kubernetes.default.svc.cluster.local  kubectl exec into worker-1's probe pod failed (timed out)",
    ]);
    expect(lines).toContain('  pod-pod master-1 → worker-1: wget: download timed out');
    expect(lines.find((l) => l.startsWith('    likely cause: '))).toContain('(different VPCs)');
    expect(lines[lines.length - 1]).toBe('3 checks: 1 passed, 1 failed, 1 skipped; namespace knit-verify-t1 deleted');
  });

  it('one JSON document with the cause and output of failures', () => {
    const doc = reportJson(results, ctx(), META);
    expect(doc.summary).toEqual({ total: 3, passed: 1, failed: 1, skipped: 1 });
    expect(doc.checks[1]).toMatchObject({ id: 'pod-pod/master-1/worker-1', from: 'master-1', to: 'worker-1', status: 'fail', cause: expect.stringContaining('8472/udp'), output: expect.stringContaining('download timed out') });
    expect(doc.checks[0]).not.toHaveProperty('cause');
    expect(doc).toMatchObject({ namespace: 'knit-verify-t1', cleanup: 'deleted', cni: ['flannel'], serviceIP: '10.101.148.23' });
  });

  it('JUnit XML: a suite per kind, a case per check, failures with cause and output, skips', () => {
    const xml = junitXml(results, ctx(), META);
    expect(xml.split('\n').slice(0, 2)).toEqual([
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<testsuites name="knit verify" tests="3" failures="1" errors="0" skipped="1" time="1.234">',
    ]);
    expect(xml.match(/<testsuite /g)).toHaveLength(3);
    expect(xml).toContain('<testsuite name="knit verify pod-pod" tests="1" failures="1" errors="0" skipped="0" time="0.005">');
    expect(xml).toContain('<testcase classname="knit.verify.pod-pod" name="master-1 → worker-1 (10.244.1.4)" time="0.005">');
    expect(xml).toMatch(/<failure message="master-1 → worker-1: the CNI data path between master-1 and worker-1 \(different VPCs\) is blocked[^"]*" type="pod-pod">wget: download timed out\nlikely cause: /);
    expect(xml).toContain('command: wget x');
    expect(xml).toContain(`<skipped message="kubectl exec into worker-1&apos;s probe pod failed (timed out)"/>`);
    expect(wellFormed(xml)).toBe(true);
  });

  it('escapes markup, quotes and characters XML cannot hold', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(escapeXml('bell\u0007 esc\u001b[31m tab\tnl\n')).toBe('bell\uFFFD esc\uFFFD[31m tab\tnl\n');
    const nasty = fail(check({ kind: 'pod-external', target: 'db:5432' }), 'nc: <bad> & "worse" ]]> \u0000', { output: '</failure><injected/>' });
    const xml = junitXml([nasty], ctx(), META);
    expect(xml).not.toContain('<injected/>');
    expect(xml).toContain('&lt;/failure&gt;&lt;injected/&gt;');
    expect(wellFormed(xml)).toBe(true);
  });
});

/** Enough of an XML check for these documents: tags balance, attributes are quoted, no stray `<` or `&`. */
function wellFormed(xml: string): boolean {
  const body = xml.replace(/^<\?xml[^?]*\?>\n/, '');
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(body)) return false;
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = token.exec(body))) {
    pos = token.lastIndex;
    if (m[5] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) return false;
      continue;
    }
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else if (!m[4]) stack.push(m[2]!);
  }
  return pos === body.length && stack.length === 0;
}
