/**
 * The wizard's flow, driven two ways: stub prompts that check each question and give the next scripted
 * answer (through the question's own validator), and the real @inquirer/prompts on in-memory streams,
 * typing keys when a question or message appears on the screen.
 */
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { confirm, input, select } from '@inquirer/prompts';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkCniAcrossVpcs } from '../src/crossvpc/cni-support.js';
import { peersOutsideVpc } from '../src/crossvpc/peers.js';
import { IMAGE_REPOSITORIES } from '../src/defaults.js';
import { loadSpec } from '../src/spec/load.js';
import type { SpecInput } from '../src/spec/schema.js';
import * as q from '../src/wizard/questions.js';
import { askCluster, type Detected, type Prompts, type WizardAnswers } from '../src/wizard/wizard.js';

const offEcs: Detected = {
  hostname: 'VM-1',
  interfaces: [{ name: 'eth0', ip: '10.0.0.5' }],
  privateIP: '10.0.0.5',
  notOnEcs: 'the ECS metadata service did not answer within 1 s',
};

const onEcs: Detected = {
  hostname: 'iZbp1abcZ',
  interfaces: [
    { name: 'eth0', ip: '172.16.0.10' },
    { name: 'docker0', ip: '172.17.0.1' },
  ],
  privateIP: '172.16.0.10',
  publicIP: '47.96.0.10',
  ecs: { regionId: 'cn-hangzhou', zoneId: 'cn-hangzhou-h', instanceId: 'i-bp1abc', instanceType: 'ecs.g7.large', vpcId: 'vpc-bp1main', vswitchId: 'vsw-bp1node' },
};

const TOKEN = 'abcdef.0123456789abcdef';
const CA_HASH = `sha256:${'a'.repeat(64)}`;
const CERT_KEY = 'b'.repeat(64);

/** The answers as `knit init --config` would read them back. */
const load = (answers: WizardAnswers) =>
  loadSpec({ file: { name: 'answers.yaml', text: stringify(answers.spec) }, flags: { nodeName: answers.localNode }, hostname: 'elsewhere' });

/**
 * [question, answer, rejectedWith]: the answer is typed at the question matching the pattern; undefined
 * accepts the default ('' is an emptied line). With rejectedWith, the question's validator must refuse
 * the answer with that message, and the next step answers the same question again.
 */
type Step = [question: RegExp, answer?: string | boolean, rejectedWith?: RegExp];
type Asked = { message: string; choices?: { value: unknown; name: string }[]; default?: unknown };

function scripted(steps: Step[]) {
  const asked: Asked[] = [];
  const next = (message: string): Step => {
    const step = steps.shift();
    if (!step) throw new Error(`unscripted question: ${message}`);
    if (!step[0].test(message)) throw new Error(`expected a question matching ${step[0]}, asked: ${message}`);
    return step;
  };
  const pending = <T>(answer: Promise<T>) => Object.assign(answer, { cancel: () => {} });
  const prompts = {
    input: (config: Parameters<Prompts['input']>[0]) =>
      pending(
        (async () => {
          asked.push({ message: config.message, default: config.default });
          for (;;) {
            const [, answer, rejectedWith] = next(config.message);
            const value = answer === undefined ? (config.default ?? '') : String(answer);
            const verdict = await config.validate!(value);
            if (rejectedWith) expect(verdict).toMatch(rejectedWith);
            else if (verdict !== true) throw new Error(`${config.message}: ${value} refused: ${String(verdict)}`);
            else return value;
          }
        })(),
      ),
    select: (config: { message: string; choices: { value: unknown; name: string }[]; default?: unknown }) =>
      pending(
        (async () => {
          asked.push({ message: config.message, choices: config.choices, default: config.default });
          const [, answer] = next(config.message);
          const value = answer === undefined ? config.default : answer;
          if (!config.choices.some((c) => c.value === value)) throw new Error(`${config.message}: ${String(value)} is not a choice`);
          return value;
        })(),
      ),
    confirm: (config: { message: string; default?: boolean }) =>
      pending(
        (async () => {
          asked.push({ message: config.message, default: config.default });
          const [, answer] = next(config.message);
          return answer === undefined ? (config.default ?? false) : answer;
        })(),
      ),
  } as unknown as Prompts;
  return { prompts, asked, steps };
}

async function run(detected: Detected, steps: Step[], initial?: SpecInput) {
  const script = scripted([...steps]);
  const printed: string[] = [];
  const answers = await askCluster({ detected, prompts: script.prompts, print: (l) => printed.push(l), ...(initial && { initial }) });
  expect(script.steps).toEqual([]); // every scripted answer was asked for
  return { answers, printed, asked: script.asked };
}

/** Real @inquirer/prompts on in-memory streams: each step waits until its text is on the screen, then types its keys. */
function terminal(steps: [see: RegExp, keys: string][]) {
  let screen = '';
  const onScreen =
    (prompt: (config: never, context: object) => Promise<unknown>) =>
    async (config: never): Promise<unknown> => {
      const stdin = new PassThrough();
      // a prompt ends its output stream when done: one pair per prompt; wide enough not to wrap messages
      const stdout = Object.assign(new PassThrough(), { columns: 200 });
      let unseen = '';
      stdout.on('data', (chunk: Buffer) => {
        const text = stripVTControlCharacters(chunk.toString());
        screen += text;
        unseen += text;
        const step = steps[0];
        if (step && step[0].test(unseen)) {
          steps.shift();
          unseen = '';
          setImmediate(() => stdin.write(step[1]));
        }
      });
      try {
        return await prompt(config, { input: stdin, output: stdout, signal: AbortSignal.timeout(5000) });
      } catch (e) {
        if ((e as Error).name !== 'AbortPromptError') throw e;
        throw new Error(`waited in vain for ${String(steps[0]?.[0])}; the screen ends with: ${unseen.slice(-300)}`);
      }
    };
  const prompts = { input: onScreen(input), select: onScreen(select), confirm: onScreen(confirm) } as unknown as Prompts;
  return { prompts, steps, screen: () => screen };
}

const ENTER = '\r';
/** A stub step's question as the real prompt shows it: "? Question…". */
const asShown = (question: RegExp) => new RegExp(`\\? ${question.source.replace(/^\^/, '')}`);
const CLEAR_LINE = '\x15'; // Ctrl-U
const CTRL_C = '\x03';

/** A control plane off ECS, every default accepted. */
const flannelDefaults: Step[] = [
  [/^This machine is/],
  [/^Node name/],
  [/^Private IP of this node/],
  [/^Public IP/],
  [/^Kubernetes version/],
  [/^Pod network/],
  [/^API server endpoint for the other nodes/],
  [/^Pod CIDR/],
  [/^Service CIDR/],
  [/^Add another node/],
  [/^Pull images from/],
];

const flannelSpec: SpecInput = {
  apiVersion: 'knit/v1alpha1',
  kind: 'Cluster',
  kubernetes: { version: '1.34.2', controlPlaneEndpoint: '10.0.0.5:6443', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' },
  network: { plugin: 'flannel' },
  mirror: 'none',
  nodes: [{ name: 'vm-1', role: 'control-plane', privateIP: '10.0.0.5' }],
};

describe('the wizard, control plane', () => {
  it('builds a flannel control plane from the detected defaults', async () => {
    const { answers, printed, asked } = await run(offEcs, flannelDefaults);
    expect(answers).toEqual({ role: 'control-plane', spec: flannelSpec, localNode: 'vm-1' });
    expect(load(answers).spec.kubernetes.controlPlaneEndpoint).toBe('10.0.0.5:6443');
    expect(printed[0]).toBe('This host: VM-1 (eth0 10.0.0.5)');
    expect(printed[1]).toContain(offEcs.notOnEcs);
    // off ECS Terway comes last and says why it does not fit
    const networks = asked.find((a) => a.message.startsWith('Pod network'))!;
    expect(networks.default).toBe('flannel');
    expect(networks.choices!.at(-1)).toMatchObject({ value: 'terway', name: 'Terway (this host is not on ECS)' });
  });

  it('accepts the same defaults through the real prompts (Enter at every question)', async () => {
    const tty = terminal(flannelDefaults.map(([question]) => [asShown(question), ENTER]));
    const answers = await askCluster({ detected: offEcs, prompts: tty.prompts, print: () => {} });
    expect(tty.steps).toEqual([]);
    expect(answers.spec).toEqual(flannelSpec);
    expect(tty.screen()).toContain('✔ Pod CIDR (each node gets a /24) 10.244.0.0/16');
  });

  it('builds a Calico CrossSubnet control plane on ECS, endpoint and mirror from detection', async () => {
    const { answers } = await run(onEcs, [
      [/^This machine is/],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^Kubernetes version/, '1.30.6'],
      [/^Pod network/, 'calico-crosssubnet'],
      [/^API server endpoint/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/],
      [/^Pull images from/],
    ]);
    expect(answers.spec).toEqual({
      apiVersion: 'knit/v1alpha1',
      kind: 'Cluster',
      kubernetes: { version: '1.30.6', controlPlaneEndpoint: '47.96.0.10:6443', podSubnet: '192.168.0.0/16', serviceSubnet: '10.96.0.0/12' },
      network: { plugin: 'calico', calico: { mode: 'crosssubnet' } },
      mirror: 'cn',
      nodes: [{ name: 'izbp1abcz', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '47.96.0.10' }],
    });
    expect(load(answers).spec.kubernetes.imageRepository).toBe(IMAGE_REPOSITORIES.cn);
  });

  it('builds a Canal control plane: the pod CIDR defaults to flannel\'s 10.244.0.0/16', async () => {
    const { answers } = await run(onEcs, [
      [/^This machine is/],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^Kubernetes version/],
      [/^Pod network/, 'canal'],
      [/^API server endpoint/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/],
      [/^Pull images from/],
    ]);
    expect(answers.spec.network).toEqual({ plugin: 'canal' });
    expect(answers.spec.kubernetes?.podSubnet).toBe('10.244.0.0/16');
    expect(load(answers).spec.network.canal).toEqual({ vni: 1, port: 8472 });
  });

  it('recommends Terway on ECS and takes the pod vSwitch and zone from detection', async () => {
    const { answers, printed, asked } = await run(onEcs, [
      [/^This machine is/],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^Kubernetes version/],
      [/^Pod network/],
      [/^Terway mode/, 'eni'],
      [/^vSwitch\(es\) for pods in cn-hangzhou-h/],
      [/^Security group/, 'sg-bp1pods'],
      [/^API server endpoint/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/],
      [/^Pull images from/, 'none'],
    ]);
    const networks = asked.find((a) => a.message.startsWith('Pod network'))!;
    expect(networks.choices![0]).toMatchObject({ value: 'terway', name: 'Terway (recommended on ECS)' });
    expect(networks.default).toBe('terway');
    expect(answers.spec.network).toEqual({
      plugin: 'terway',
      terway: { mode: 'eni', vswitches: { 'cn-hangzhou-h': ['vsw-bp1node'] }, securityGroups: ['sg-bp1pods'] },
    });
    expect(answers.spec.kubernetes.podSubnet).toBe('172.20.0.0/16');
    expect(printed.join('\n')).not.toMatch(/warning/);
    expect(load(answers).spec.network.terway.mode).toBe('eni');
  });

  it('warns when Terway is chosen off ECS and asks for the zone', async () => {
    const { answers, printed } = await run(offEcs, [
      [/^This machine is/],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^Kubernetes version/],
      [/^Pod network/, 'terway'],
      [/^Terway mode/],
      [/^Zone of this node/, 'cn-shanghai-b'],
      [/^vSwitch\(es\) for pods in cn-shanghai-b/, '', /at least one vSwitch/],
      [/^vSwitch/, 'vsw-uf6pods, sg-oops', /sg-oops is not a vSwitch ID/],
      [/^vSwitch/, 'vsw-uf6pods'],
      [/^Security group/],
      [/^API server endpoint/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/],
      [/^Pull images from/],
    ]);
    expect(printed).toContain(`warning: Terway runs only on ECS, and this host does not look like an ECS instance (${offEcs.notOnEcs})`);
    expect(answers.spec.network?.terway).toEqual({ mode: 'eniip', vswitches: { 'cn-shanghai-b': ['vsw-uf6pods'] }, securityGroups: [] });
    expect(() => load(answers)).not.toThrow();
  });

  it('adds peers in other VPCs, refusing duplicates and addresses in the service CIDR', async () => {
    const { answers, printed } = await run(onEcs, [
      [/^This machine is/],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^Kubernetes version/],
      [/^Pod network/, 'flannel'],
      [/^API server endpoint/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/, true],
      [/^Its name/, 'izbp1abcz', /izbp1abcz is already a node/],
      [/^Its name/, 'Worker_1', /DNS-1123/],
      [/^Its name/, 'worker-1'],
      [/^Role of worker-1/],
      [/^Private IP of worker-1/, '172.16.0.10', /172\.16\.0\.10 is also nodes\[0\]\.privateIP/],
      [/^Private IP of worker-1/, '10.96.0.7', /10\.96\.0\.7 lies inside kubernetes\.serviceSubnet 10\.96\.0\.0\/12/],
      [/^Private IP of worker-1/, '172.17.0.20'],
      [/^VPC label of worker-1/],
      [/^Public IP of worker-1 \(required/, '', /required: worker-1 is outside the VPC of izbp1abcz/],
      [/^Public IP of worker-1/, '10.1.2.3', /private or reserved/],
      [/^Public IP of worker-1/, '198.51.100.20'],
      [/^Add another node/, true],
      [/^Its name/, 'cp-2'],
      [/^Role of cp-2/, 'control-plane'],
      [/^Private IP of cp-2/, '172.16.0.11'],
      [/^VPC label of cp-2/],
      [/^Public IP of cp-2 \(optional\)/, ''],
      [/^Add another node/, false],
      [/^Pull images from/],
    ]);
    expect(answers.spec.nodes).toEqual([
      { name: 'izbp1abcz', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '47.96.0.10' },
      { name: 'worker-1', role: 'worker', privateIP: '172.17.0.20', publicIP: '198.51.100.20' },
      { name: 'cp-2', role: 'control-plane', privateIP: '172.16.0.11' },
    ]);
    const { spec } = load(answers);
    expect(peersOutsideVpc(spec, 'izbp1abcz').map((p) => p.name)).toEqual(['worker-1']);
    // flannel VXLAN across VPCs: one line recommending WireGuard, the answers unchanged
    expect(printed.filter((l) => /span VPCs/.test(l))).toEqual([
      "note: the nodes span VPCs, so pod traffic crosses the internet, unencrypted with VXLAN: flannel's WireGuard backend encrypts it (network.flannel.backend: wireguard; UDP 51820 between nodes, kernel 5.6+)",
    ]);
    expect(answers.spec.network).toEqual({ plugin: 'flannel' });
  });

  const acrossVpcs = `
kubernetes: { controlPlaneEndpoint: "203.0.113.10:6443" }
nodes:
  - { name: master-1, role: control-plane, privateIP: 172.16.0.10, publicIP: 203.0.113.10 }
  - { name: worker-1, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }
`;
  const master: Detected = { hostname: 'master-1', interfaces: [{ name: 'eth0', ip: '172.16.0.10' }], privateIP: '172.16.0.10', publicIP: '203.0.113.10', notOnEcs: 'no answer' };

  it("recommends flannel's WireGuard backend when the --config nodes span VPCs (first, and the default)", async () => {
    const { answers, printed, asked } = await run(master, [...flannelDefaults], parse(acrossVpcs) as SpecInput);
    const networks = asked.find((a) => a.message.startsWith('Pod network'))!;
    expect(networks.default).toBe('flannel-wireguard');
    expect(networks.choices![0]).toMatchObject({ value: 'flannel-wireguard', name: 'Flannel WireGuard (recommended across VPCs)' });
    expect(networks.choices!.at(-1)).toMatchObject({ value: 'terway', name: 'Terway (not across VPCs)' });
    expect(answers.spec.network).toEqual({ plugin: 'flannel', flannel: { backend: 'wireguard' } });
    expect(load(answers).spec.network.flannel.backend).toBe('wireguard');
    expect(printed.join('\n')).not.toMatch(/span VPCs/);
  });

  it('Flannel VXLAN chosen over a WireGuard --config goes back to VXLAN; a network knit refuses across VPCs is named when the nodes are known', async () => {
    const wgConfig = parse(`${acrossVpcs}network: { plugin: flannel, flannel: { backend: wireguard, mtu: 1380 } }\n`) as SpecInput;
    const vxlan = await run(master, flannelDefaults.map(([q]) => (String(q) === String(/^Pod network/) ? [q, 'flannel'] : [q])), wgConfig);
    expect(vxlan.answers.spec.network).toEqual({ plugin: 'flannel', flannel: { backend: 'vxlan', mtu: 1380 } });
    expect(vxlan.printed.filter((l) => /span VPCs/.test(l))).toHaveLength(1);

    const ipip = await run(master, flannelDefaults.map(([q]) => (String(q) === String(/^Pod network/) ? [q, 'calico-ipip'] : [q])), parse(acrossVpcs) as SpecInput);
    expect(ipip.answers.spec.network).toEqual({ plugin: 'calico', calico: { mode: 'ipip' } });
    expect(ipip.printed.filter((l) => /span VPCs/.test(l))).toEqual([
      'warning: the nodes span VPCs, and network.calico.mode (--calico-mode): ipip does not work across VPCs (IPIP and BGP routes point at private IPs that other VPCs cannot route to); use vxlan',
    ]);
  });

  it('names the conflict of a CIDR as it is typed, and takes the correction (real prompts)', async () => {
    const tty = terminal([
      ...flannelDefaults.slice(0, 7).map(([question]): [RegExp, string] => [asShown(question), ENTER]),
      [/\? Pod CIDR/, `10.96.0.0/16${ENTER}`],
      [/10\.96\.0\.0\/16 overlaps kubernetes\.serviceSubnet 10\.96\.0\.0\/12/, `${CLEAR_LINE}10.0.0.0/16${ENTER}`],
      [/node vm-1: 10\.0\.0\.5 lies inside kubernetes\.podSubnet 10\.0\.0\.0\/16/, `${CLEAR_LINE}10.32.0.0/25${ENTER}`],
      [/10\.32\.0\.0\/25 is smaller than the \/24 each node is given/, `${CLEAR_LINE}10.32.0.0/16${ENTER}`],
      [/\? Service CIDR/, `10.0.0.0/8${ENTER}`],
      [/10\.0\.0\.0\/8 is larger than \/12/, `${CLEAR_LINE}10.32.0.0/20${ENTER}`],
      [/10\.32\.0\.0\/16 overlaps kubernetes\.serviceSubnet 10\.32\.0\.0\/20/, `${CLEAR_LINE}10.96.0.0/12${ENTER}`],
      [/\? Add another node/, ENTER],
      [/\? Pull images from/, ENTER],
    ]);
    const answers = await askCluster({ detected: offEcs, prompts: tty.prompts, print: () => {} });
    expect(tty.steps).toEqual([]);
    expect(answers.spec.kubernetes).toMatchObject({ podSubnet: '10.32.0.0/16', serviceSubnet: '10.96.0.0/12' });
    expect(() => load(answers)).not.toThrow();
  });

  it('defaults every answer to the --config spec, keeping its other nodes', async () => {
    const file = `
kubernetes: { version: "1.32.4", controlPlaneEndpoint: "203.0.113.10:6443", podSubnet: 10.32.0.0/16 }
network: { plugin: calico, calico: { mode: vxlan, asNumber: 64600 } }
mirror: cn
nodes:
  - { name: master-1, role: control-plane, privateIP: 172.16.0.10, publicIP: 203.0.113.10 }
  - { name: worker-1, privateIP: 172.17.0.20, publicIP: 198.51.100.20 }
`;
    const detected: Detected = { hostname: 'master-1', interfaces: [{ name: 'eth0', ip: '172.16.0.10' }], privateIP: '172.16.0.10', notOnEcs: 'no answer' };
    const { answers } = await run(detected, [...flannelDefaults], parse(file) as SpecInput);
    expect(answers.localNode).toBe('master-1');
    const fromConfig = loadSpec({ file: { name: 'cluster.yaml', text: file }, hostname: 'master-1' });
    expect(load(answers).spec).toEqual(fromConfig.spec);
  });
});

describe('the wizard, joining', () => {
  it('offers joining as a worker first when the --config spec has this node as a worker', async () => {
    const script = scripted([[/^This machine is/]]);
    const initial: SpecInput = { kubernetes: { controlPlaneEndpoint: '10.0.0.1' }, nodes: [{ name: 'vm-1', privateIP: '10.0.0.5' }] };
    // the script ends after the role: the next question stops the flow
    await expect(askCluster({ detected: offEcs, prompts: script.prompts, print: () => {}, initial })).rejects.toThrow('unscripted question: Node name');
    expect(script.asked[0]!.default).toBe('worker');
  });

  const worker: Detected = { hostname: 'worker-1', interfaces: [{ name: 'eth0', ip: '172.17.0.20' }], privateIP: '172.17.0.20', notOnEcs: 'no answer' };

  it('asks a worker for the join parameters and the control plane in another VPC', async () => {
    const { answers, asked } = await run(worker, [
      [/^This machine is/, 'worker'],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^API server endpoint to join/, '203.0.113.10:99999', /port 99999 is out of range/],
      [/^API server endpoint to join/, '203.0.113.10:6443'],
      [/^Bootstrap token/, 'ABCDEF.0123456789abcdef', /bootstrap token looks like/],
      [/^Bootstrap token/, TOKEN],
      [/^CA certificate hash/, 'sha256:abc', /sha256:<64 hex digits>/],
      [/^CA certificate hash/, CA_HASH],
      [/^Kubernetes version of the cluster/, '1.27.1', /not supported/],
      [/^Kubernetes version of the cluster/, '1.32.4'],
      [/^Pod network of the cluster/],
      [/^Pod CIDR of the cluster/],
      [/^Service CIDR of the cluster/],
      [/^Add another node/, true],
      [/^Its name/, 'master-1'],
      [/^Role of master-1/, 'control-plane'],
      [/^Private IP of master-1/, '172.16.0.10'],
      [/^VPC label of master-1/],
      [/^Public IP of master-1/, '203.0.113.10'],
      [/^Add another node/, false],
      [/^Public IP of worker-1 \(required/, '', /required: worker-1 has peers outside its VPC/],
      [/^Public IP of worker-1/, '198.51.100.20'],
    ]);
    expect(answers).toEqual({
      role: 'worker',
      localNode: 'worker-1',
      join: { endpoint: '203.0.113.10:6443', token: TOKEN, caCertHash: CA_HASH },
      spec: {
        apiVersion: 'knit/v1alpha1',
        kind: 'Cluster',
        kubernetes: { version: '1.32.4', controlPlaneEndpoint: '203.0.113.10:6443', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' },
        network: { plugin: 'flannel' },
        nodes: [
          { name: 'worker-1', role: 'worker', privateIP: '172.17.0.20', publicIP: '198.51.100.20' },
          { name: 'master-1', role: 'control-plane', privateIP: '172.16.0.10', publicIP: '203.0.113.10' },
        ],
      },
    });
    expect(asked.some((a) => /images/.test(a.message))).toBe(false);
    expect(load(answers).localNode).toBe('worker-1');
  });

  it('asks an additional control plane for the certificate key too', async () => {
    const { answers } = await run(offEcs, [
      [/^This machine is/, 'additional-control-plane'],
      [/^Node name/],
      [/^Private IP/],
      [/^Public IP/],
      [/^API server endpoint to join/, 'k8s-api.example.com'],
      [/^Bootstrap token/, TOKEN],
      [/^CA certificate hash/, CA_HASH],
      [/^Certificate key/, 'xyz', /64 hex digits/],
      [/^Certificate key/, CERT_KEY],
      [/^Kubernetes version/],
      [/^Pod network/],
      [/^Pod CIDR/],
      [/^Service CIDR/],
      [/^Add another node/],
    ]);
    expect(answers.role).toBe('control-plane');
    expect(answers.join).toEqual({ endpoint: 'k8s-api.example.com', token: TOKEN, caCertHash: CA_HASH, controlPlane: true, certificateKey: CERT_KEY });
    expect(load(answers).spec.kubernetes.controlPlaneEndpoint).toBe('k8s-api.example.com:6443');
  });

  it('masks the token once answered (real prompts)', async () => {
    const tty = terminal([
      [/\? This machine is/, `\x1b[B${ENTER}`], // down to "Worker"
      [/\? Node name/, ENTER],
      [/\? Private IP/, ENTER],
      [/\? Public IP/, ENTER],
      [/\? API server endpoint to join/, `203.0.113.10:6443${ENTER}`],
      [/\? Bootstrap token/, `${TOKEN}${ENTER}`],
      [/\? CA certificate hash/, CTRL_C],
    ]);
    await expect(askCluster({ detected: offEcs, prompts: tty.prompts, print: () => {} })).rejects.toMatchObject({ name: 'ExitPromptError' });
    expect(tty.screen()).toContain(`✔ Bootstrap token abcdef.${'*'.repeat(16)}`);
  });
});

describe('Ctrl-C', () => {
  it('propagates the ExitPromptError of a stubbed prompt unchanged', async () => {
    const exit = Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
    const script = scripted([[/^This machine is/]]);
    const prompts = { ...script.prompts, input: () => Promise.reject(exit) } as unknown as Prompts;
    await expect(askCluster({ detected: offEcs, prompts, print: () => {} })).rejects.toBe(exit);
  });

  it('propagates the real prompt’s ExitPromptError', async () => {
    const tty = terminal([
      [/\? This machine is/, ENTER],
      [/\? Node name/, CTRL_C],
    ]);
    await expect(askCluster({ detected: offEcs, prompts: tty.prompts, print: () => {} })).rejects.toMatchObject({ name: 'ExitPromptError' });
    expect(tty.steps).toEqual([]);
  });
});

describe('questions', () => {
  it.each([
    ['validateVersion', '1.27.3', /not supported \(knit supports 1\.28 to 1\.35\)/],
    ['validateVersion', '1.34', /not a version like/],
    ['validateEndpoint', 'https://api:6443', /is not HOST\[:PORT\]/],
    ['validateNodeName', 'Node_1', /lowercase DNS-1123/],
    ['validatePrivateIP', '10.0.0.256', /not an IPv4 address/],
    ['validatePublicIP', '192.168.1.1', /private or reserved/],
    ['validateToken', 'abcdef.0123456789abcde', /bootstrap token/],
    ['validateSecurityGroups', 'sg-a vsw-b', /vsw-b is not a security group ID/],
    ['validateZone', 'Hangzhou', /zone ID/],
  ] as const)('%s refuses %j', (name, value, message) => {
    expect(q[name](value)).toMatch(message);
  });

  it.each([
    ['validateVersion', '1.35.0'],
    ['validateEndpoint', 'api.example.com'],
    ['validatePublicIP', ''],
    ['validatePublicIP', '203.0.113.7'],
    ['validateSecurityGroups', ''],
    ['validateCaCertHash', CA_HASH],
  ] as const)('%s accepts %j', (name, value) => {
    expect(q[name](value)).toBe(true);
  });

  it('no pod network claims to work across VPCs when knit refuses it there, and every refused one says "one VPC only"', () => {
    const nodes = [
      { name: 'a', role: 'control-plane' as const, privateIP: '172.16.0.10', publicIP: '203.0.113.10' },
      { name: 'b', privateIP: '172.17.0.20', publicIP: '198.51.100.20' },
    ];
    for (const [value, n] of Object.entries(q.NETWORKS)) {
      const spec = loadSpec({
        file: { name: 'c.yaml', text: stringify({ kubernetes: { controlPlaneEndpoint: '203.0.113.10' }, network: { plugin: n.plugin, calico: { mode: n.calicoMode ?? 'ipip' }, flannel: { backend: n.flannelBackend ?? 'vxlan' } }, nodes }) },
        hostname: 'a',
      }).spec;
      const refused = (() => {
        try {
          checkCniAcrossVpcs(spec);
          return false;
        } catch {
          return true;
        }
      })();
      if (refused) expect(n.description, value).toMatch(/one VPC only/);
      else expect(n.description, value).toMatch(/across VPCs/);
      if (refused) expect(n.description, value).not.toMatch(/works across VPCs/);
    }
    expect(Object.keys(q.NETWORKS)).toContain('flannel-wireguard');
  });

  it("canal is offered as one that works across VPCs, and there the note points to WireGuard for encryption", () => {
    expect(q.NETWORKS.canal).toMatchObject({ plugin: 'canal' });
    expect(q.NETWORKS.canal.description).toMatch(/works across VPCs/);
    expect(q.networkChoices({ ecs: undefined } as unknown as Parameters<typeof q.networkChoices>[0], { acrossVpcs: true }).map((c) => c.value)).toContain('canal');
    expect(q.acrossVpcsNote({ plugin: 'canal' }, undefined)).toMatch(/unencrypted with canal's VXLAN.*wireguard/);
    expect(q.defaultNetwork({} as Parameters<typeof q.defaultNetwork>[0], { plugin: 'canal' })).toBe('canal');
  });

  it.each([
    ['cn-beijing', 'cn'],
    ['cn-hongkong', 'none'],
    ['ap-southeast-1', 'none'],
  ])('defaults the mirror in %s to %s', (regionId, mirror) => {
    expect(q.defaultMirror({ ...onEcs, ecs: { ...onEcs.ecs!, regionId } })).toBe(mirror);
  });
});
