/**
 * The fake apiserver (test/fakes/apiserver.mjs) against the real client: @kubernetes/client-node's Node
 * informer, as `knit crossvpc agent` runs it, plus the raw wire where the informer hides it. In process,
 * on 127.0.0.1; every server and informer is stopped after each test, and the last test checks that a
 * closed server leaves no process, port or socket behind.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, makeInformer, type ListWatch, type V1Node } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeNodes, startFakeApiServer, type FakeApiServer, type FakeApiServerOptions, type FakeNodeInput } from './helpers/fake-apiserver.js';

let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knit-api-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const THREE: FakeNodeInput[] = fakeNodes(3, (i) => ({ labels: { 'knit.dev/vpc': `vpc-${i % 2}` }, annotations: { 'knit.dev/public-ip': `203.0.113.${i + 1}` } }));

async function server(opts: Partial<FakeApiServerOptions> = {}): Promise<FakeApiServer> {
  const s = await startFakeApiServer({ listen: '127.0.0.1:0', dir, nodes: THREE, ...opts });
  cleanups.push(() => s.close());
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 2000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Watched {
  informer: ListWatch<V1Node>;
  /** add/update/delete as they came: `verb name@resourceVersion` */
  events: string[];
  errors: unknown[];
  connects: number;
  names(): string[];
}

/** The agent's informer: `makeInformer(kc, path, () => coreV1.listNode())`, started, with its callbacks recorded. */
async function informer(s: FakeApiServer, opts: { path?: string; token?: string; start?: boolean } = {}): Promise<Watched> {
  const kc = new KubeConfig();
  kc.loadFromFile(s.kubeconfig(s.url, opts.token));
  const coreV1 = kc.makeApiClient(CoreV1Api);
  const inf = makeInformer(kc, opts.path ?? '/api/v1/nodes', () => coreV1.listNode()) as ListWatch<V1Node>;
  const w: Watched = { informer: inf, events: [], errors: [], connects: 0, names: () => inf.list().map((n) => n.metadata!.name!).sort() };
  for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, (n) => w.events.push(`${verb} ${n.metadata?.name}@${n.metadata?.resourceVersion}`));
  inf.on('error', (e) => w.errors.push(e));
  inf.on('connect', () => (w.connects += 1));
  cleanups.push(() => inf.stop());
  if (opts.start !== false) await inf.start();
  return w;
}

const auth = { Authorization: 'Bearer knit-test-token' };
const getJson = async (url: string, headers: Record<string, string> = auth) => {
  const r = await fetch(url, { headers });
  return { status: r.status, type: r.headers.get('content-type'), body: (await r.json()) as any };
};

/** Reads a watch stream for `ms` (or until the server ends it): its lines, parsed, and whether it ended. */
async function readWatch(url: string, ms: number): Promise<{ lines: any[]; ended: boolean; headers: Headers }> {
  const ac = new AbortController();
  const r = await fetch(url, { headers: auth, signal: ac.signal });
  const timer = setTimeout(() => ac.abort(), ms);
  let text = '';
  let ended = false;
  try {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString('utf8');
    ended = true;
  } catch {
    // aborted: still open after ms
  }
  clearTimeout(timer);
  return { lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)), ended, headers: r.headers };
}

describe('fake apiserver: the wire', () => {
  it('lists a NodeList (items without kind, as the apiserver), pages with limit/continue at one resourceVersion, and wants the token', async () => {
    const s = await server();
    const full = await getJson(`${s.url}/api/v1/nodes`);
    expect(full.status).toBe(200);
    expect(full.type).toBe('application/json');
    expect(full.body).toMatchObject({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '103' } });
    expect(full.body.items).toHaveLength(3);
    const [first] = full.body.items;
    expect(first.kind).toBeUndefined();
    expect(first.metadata).toMatchObject({
      name: 'node-00001',
      resourceVersion: '101',
      labels: { 'kubernetes.io/hostname': 'node-00001', 'knit.dev/vpc': 'vpc-0' },
      annotations: { 'knit.dev/public-ip': '203.0.113.1' },
    });
    expect(first.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(first.status.addresses).toEqual([
      { type: 'InternalIP', address: '10.0.0.1' },
      { type: 'Hostname', address: 'node-00001' },
    ]);

    const page1 = await getJson(`${s.url}/api/v1/nodes?limit=2`);
    expect(page1.body.items.map((n: V1Node) => n.metadata!.name)).toEqual(['node-00001', 'node-00002']);
    expect(page1.body.metadata).toMatchObject({ resourceVersion: '103', remainingItemCount: 1 });
    // a node added between the pages is not in the second: the pages are one list at resourceVersion 103
    await s.admin.addNode({ name: 'node-00000', internalIP: '10.0.0.100' });
    await s.admin.deleteNode('node-00003');
    const page2 = await getJson(`${s.url}/api/v1/nodes?limit=2&continue=${page1.body.metadata.continue}`);
    expect(page2.body.items.map((n: V1Node) => n.metadata!.name)).toEqual(['node-00003']);
    expect(page2.body.metadata.continue).toBeUndefined();
    await s.admin.compact();
    const stale = await getJson(`${s.url}/api/v1/nodes?limit=2&continue=${page1.body.metadata.continue}`);
    expect(stale.status).toBe(410);
    expect(stale.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });

    for (const headers of [{}, { Authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      expect(await getJson(`${s.url}/api/v1/nodes`, headers)).toEqual({
        status: 401,
        type: 'application/json',
        body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 },
      });
    }
    expect(await s.admin.stats()).toMatchObject({ lists: 3, unauthorized: 2 });
  });

  it('watches: chunked JSON lines after the resourceVersion, bookmarks only when asked, the end at timeoutSeconds, 410 when too old', async () => {
    const s = await server({ bookmarkMs: 100 });
    const watch = (query: string) => readWatch(`${s.url}/api/v1/nodes?${query}`, 3000);
    // from 101: the two later ADDED, then live events, BOOKMARKs (asked for), and the end after 1 s
    const asked = watch('watch=true&resourceVersion=101&allowWatchBookmarks=true&timeoutSeconds=1');
    // client-node never asks for bookmarks; the apiserver then sends none
    const plain = watch('watch=true&resourceVersion=101&timeoutSeconds=1');
    // resourceVersion "" (or "0"): the current state as ADDED events first
    const fresh = watch('watch=true&timeoutSeconds=1');
    await until('three watches', async () => (await s.admin.stats()).openWatches === 3);
    await s.admin.addNode({ name: 'node-00002', internalIP: '10.0.0.22' });
    await s.admin.deleteNode('node-00001');
    const w = await asked;
    expect(w.ended).toBe(true);
    expect(w.headers.get('content-type')).toBe('application/json');
    expect(w.headers.get('transfer-encoding')).toBe('chunked');
    const changes = w.lines.filter((l) => l.type !== 'BOOKMARK');
    const live = ['MODIFIED node-00002@104', 'DELETED node-00001@105'];
    const show = (l: any) => `${l.type} ${l.object.metadata.name}@${l.object.metadata.resourceVersion}`;
    expect(changes.map(show)).toEqual(['ADDED node-00002@102', 'ADDED node-00003@103', ...live]);
    expect(changes[0].object).toMatchObject({ kind: 'Node', apiVersion: 'v1' });
    // the deleted node's last state, at the deletion's resourceVersion
    expect(changes[3].object.status.addresses[0]).toEqual({ type: 'InternalIP', address: '10.0.0.1' });
    const bookmarks = w.lines.filter((l) => l.type === 'BOOKMARK');
    expect(bookmarks.length).toBeGreaterThanOrEqual(5);
    expect(bookmarks.at(-1)).toEqual({ type: 'BOOKMARK', object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: '105' } } });
    const p = await plain;
    expect(p.ended).toBe(true);
    expect(p.lines.map(show)).toEqual(changes.map(show));
    const f = await fresh;
    expect(f.lines.map(show)).toEqual(['ADDED node-00001@101', 'ADDED node-00002@102', 'ADDED node-00003@103', ...live]);

    await s.admin.compact();
    const old = await watch('watch=true&resourceVersion=104');
    expect(old.ended).toBe(true);
    expect(old.lines).toEqual([
      {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 104 (105)', reason: 'Expired', code: 410 },
      },
    ]);
  });
});

describe('fake apiserver: the client-node informer', () => {
  it('gets the initial list as add events, then adds, updates and deletes as they happen', async () => {
    const s = await server();
    const w = await informer(s);
    expect(w.events).toEqual(['add node-00001@101', 'add node-00002@102', 'add node-00003@103']);
    // what it keeps differs by source: list items are deserialized (a Date), watch objects stay raw JSON (a string)
    expect(w.informer.get('node-00003')?.metadata?.creationTimestamp).toBeInstanceOf(Date);
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);

    await s.admin.addNode({ name: 'node-00004', internalIP: '10.0.0.4' });
    await s.admin.addNode({ name: 'node-00002', internalIP: '10.0.0.2', annotations: { 'knit.dev/public-ip': '198.51.100.2' } });
    await s.admin.deleteNode('node-00001');
    await until('three events', () => w.events.length === 6);
    // as they happen: on the watch already open, not from a relist or a new watch
    expect(await s.admin.stats()).toMatchObject({ lists: 1, watches: 1, openWatches: 1 });
    expect(w.events.slice(3)).toEqual(['add node-00004@104', 'update node-00002@105', 'delete node-00001@106']);
    expect(w.informer.get('node-00002')?.metadata?.annotations?.['knit.dev/public-ip']).toBe('198.51.100.2');
    expect(w.names()).toEqual(['node-00002', 'node-00003', 'node-00004']);

    // a kubelet heartbeat is an update too (the agent must not rewrite its map for it); the same input again is no write at all
    await s.admin.heartbeat(['node-00003']);
    expect(await s.admin.addNode({ name: 'node-00004', internalIP: '10.0.0.4' })).toEqual({ type: 'UNCHANGED', resourceVersion: '107' });
    await until('the heartbeat', () => w.events.length === 7);
    expect(w.events[6]).toBe('update node-00003@107');

    // what the informer sends: a bare list, then a watch from the list's resourceVersion (no bookmarks, no timeout)
    const sent = (await s.admin.requests()).map((r) => r.url);
    expect(sent).toEqual(['/api/v1/nodes', '/api/v1/nodes?watch=true&resourceVersion=103']);
    expect(w.informer.get('node-00003')?.metadata?.creationTimestamp).toBeTypeOf('string');
    expect(w.errors).toEqual([]);
  });

  it('asked through its path, gets bookmarks: they move its resourceVersion and make no event', async () => {
    const s = await server({ bookmarkMs: 50 });
    // ListWatch keeps the path's query and adds watch=true&resourceVersion=…
    const w = await informer(s, { path: '/api/v1/nodes?allowWatchBookmarks=true' });
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);
    const { resourceVersion } = await s.admin.bump();
    await until('a bookmark at the new resourceVersion', () => w.informer.latestResourceVersion() === resourceVersion);
    expect((await s.admin.stats()).bookmarks).toBeGreaterThan(0);
    expect(w.events).toHaveLength(3);
    expect((await s.admin.requests()).map((r) => r.url)).toContain('/api/v1/nodes?allowWatchBookmarks=true&watch=true&resourceVersion=103');
  });

  it('after a watch closes (its timeout), watches again from where it was: no relist, no error', async () => {
    const s = await server({ minRequestTimeoutS: 0.2 });
    const w = await informer(s);
    await until('two re-watches', async () => (await s.admin.stats()).watches >= 3);
    await s.admin.addNode({ name: 'node-00004', internalIP: '10.0.0.4' });
    await until('the add', () => w.events.includes('add node-00004@104'));
    const stats = await s.admin.stats();
    expect(stats.lists).toBe(1);
    expect(w.connects).toBeGreaterThanOrEqual(3);
    expect(w.errors).toEqual([]);
  });

  it('after compact (410 Expired on its watch), relists and ends with the same cache, without events', async () => {
    const s = await server();
    const w = await informer(s);
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);
    expect(await s.admin.compact()).toEqual({ resourceVersion: '103', closedWatches: 1 });
    await until('the relist', async () => {
      const st = await s.admin.stats();
      return st.lists === 2 && st.openWatches === 1;
    });
    expect(w.names()).toEqual(['node-00001', 'node-00002', 'node-00003']);
    expect(w.events).toHaveLength(3);
    expect(w.errors).toEqual([]);
    await s.admin.deleteNode('node-00002');
    await until('the delete', () => w.events.includes('delete node-00002@104'));
  });

  it('down: an error and no restart by itself; started again (the agent, with a backoff) it catches up after up', async () => {
    const s = await server();
    const w = await informer(s);
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);

    // the agent's loop: on 'error', start() again after a growing delay
    let delay = 50;
    let retry: NodeJS.Timeout | undefined;
    let restarting = true;
    w.informer.on('error', () => {
      if (!restarting) return;
      retry = setTimeout(() => void w.informer.start(), delay);
      delay = Math.min(delay * 2, 400);
    });
    cleanups.push(async () => {
      restarting = false;
      clearTimeout(retry);
    });
    const connectsBefore = w.connects;
    restarting = false; // first, without the loop: what the informer does on its own
    await s.admin.down();
    await until('an error', () => w.errors.length === 1);
    await sleep(300);
    expect(w.errors).toHaveLength(1);
    expect(w.connects).toBe(connectsBefore);
    expect(String(w.errors[0])).toMatch(/Premature close/);

    restarting = true;
    void w.informer.start();
    await s.admin.addNode({ name: 'node-00004', internalIP: '10.0.0.4' });
    await s.admin.deleteNode('node-00001');
    await until('refused retries', () => w.errors.length >= 3);
    expect(w.errors.slice(1).map((e) => (e as { code?: string }).code)).toContain('ECONNREFUSED');
    await s.admin.up();
    await until('the catch-up', () => w.events.length === 5, 3000);
    expect(w.events.slice(3)).toEqual(['add node-00004@104', 'delete node-00001@105']);
    // caught up through the watch from its old resourceVersion: no relist
    expect((await s.admin.stats()).lists).toBe(1);
  });

  it('down as a partition (hang): silence, no error; on up the held events arrive', async () => {
    const s = await server();
    const w = await informer(s);
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);
    await s.admin.down('hang');
    await s.admin.addNode({ name: 'node-00004', internalIP: '10.0.0.4' });
    await sleep(400);
    expect(w.events).toHaveLength(3);
    expect(w.errors).toEqual([]);
    await s.admin.up();
    await until('the held add', () => w.events.includes('add node-00004@104'));
  });

  it('with a wrong token, reports the 401 as an error', async () => {
    const s = await server();
    const w = await informer(s, { token: 'wrong' });
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toMatchObject({ code: 401 });
    expect(w.events).toEqual([]);
    expect((await s.admin.stats()).unauthorized).toBe(1);
  });

  it('loads thousands of nodes in one call, and close() leaves no process, port or socket behind', async () => {
    const s = await server({ nodes: [] });
    const w = await informer(s);
    await until('the watch', async () => (await s.admin.stats()).openWatches === 1);
    expect(await s.admin.addNodes(fakeNodes(2000))).toEqual({ added: 2000, modified: 0, unchanged: 0, resourceVersion: '2100' });
    await until('2000 adds', () => w.events.length === 2000, 5000);
    expect(w.informer.get('node-02000')?.status?.addresses?.[0]?.address).toBe('10.0.7.208');
    await w.informer.stop();

    const port = Number(new URL(s.url).port);
    await s.close();
    expect(() => process.kill(s.pid, 0)).toThrow();
    expect(existsSync(s.adminSocket)).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      const c = connect(port, '127.0.0.1', () => resolve('connected'));
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
