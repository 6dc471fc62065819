#!/usr/bin/env node
// A stand-in for the Kubernetes API server, for what a Node informer uses, on the real wire format:
// list (with limit/continue paging) and watch of /api/v1/nodes, over plain HTTP with a bearer token.
//
//   node test/fakes/apiserver.mjs --listen HOST:PORT --admin SOCKET [--nodes FILE.json] [--token T]
//        [--bookmark-ms N] [--min-request-timeout S] [--parent-pid PID]
//
// Prints `listening` once both the API port and the admin socket accept. Runs inside a network namespace
// (`ip netns exec NS node …`): clients reach the API port over the network, the harness drives it through
// the admin socket (HTTP + JSON on a unix socket; the filesystem is shared across namespaces).
//
// As the real apiserver (and where it differs):
//   - one global resourceVersion (digits), bumped by every write; it starts at 100, never "0";
//   - list items carry no kind/apiVersion (the apiserver omits them in lists); watch objects carry both;
//   - watch: `watch=true&resourceVersion=RV` streams every event after RV, then live events, one JSON
//     object per line, chunked; RV ""/"0" (or sendInitialEvents=true) starts with a synthetic ADDED per
//     node; RV older than the compaction point → one ERROR line (410 Expired, "too old resource version")
//     and the stream ends; RV newer than the server's → 504 after 3 s ("Too large resource version");
//   - BOOKMARK events (every --bookmark-ms, default 60000) only to watches that asked with
//     allowWatchBookmarks=true; the object is {kind:"Node",apiVersion:"v1",metadata:{resourceVersion}};
//   - a watch ends cleanly after timeoutSeconds, or when the client sent none after a random time in
//     [--min-request-timeout, 2×] seconds (default 1800, the apiserver's --min-request-timeout);
//   - a write that changes nothing (same input as the stored node) is a no-op: no new RV, no event;
//   - DELETED carries the node's last state with the deletion's resourceVersion;
//   - any request without exactly `Authorization: Bearer <token>` (default knit-test-token) → 401, as an
//     apiserver with --anonymous-auth=false; label/field selectors → 400 (not implemented here).
//
// Admin API (unix socket): POST /nodes {name, internalIP?, labels?, annotations?, podCIDR?} (ADDED, or
// MODIFIED when the name exists) · DELETE /nodes/NAME · POST /bulk [inputs…] (one RV per node) ·
// POST /heartbeat {names?} (a kubelet status update: MODIFIED, nothing the map reads changes) ·
// POST /bump (the RV moves, as when any other object in the cluster changes; no Node event) ·
// POST /compact (every earlier RV becomes too old; open watches get the 410 ERROR line and end) ·
// POST /down {mode?: "refuse"|"hang"} · POST /up · GET /stats · GET /requests · GET /info.
//   down "refuse" (default): every open API connection is destroyed and the port closed (connection
//   refused), as when the apiserver is gone. down "hang": connections stay open but nothing moves, new
//   requests are accepted and left unanswered, as in a network partition; on up, what was held flows.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    listen: { type: 'string' },
    admin: { type: 'string' },
    nodes: { type: 'string' },
    token: { type: 'string', default: 'knit-test-token' },
    'bookmark-ms': { type: 'string', default: '60000' },
    'min-request-timeout': { type: 'string', default: '1800' },
    'parent-pid': { type: 'string' },
  },
});
const die = (msg) => {
  process.stderr.write(`fake apiserver: ${msg}\n`);
  process.exit(2);
};
if (!opt.listen || !opt.admin) die('usage: apiserver.mjs --listen HOST:PORT --admin SOCKET [--nodes FILE.json] [--token T] [--bookmark-ms N] [--min-request-timeout S]');
const listenMatch = /^\[?([^\]]*)\]?:(\d+)$/.exec(opt.listen);
if (!listenMatch) die(`--listen ${opt.listen}: expected HOST:PORT`);
const listenHost = listenMatch[1];
let listenPort = Number(listenMatch[2]);
const bookmarkMs = Number(opt['bookmark-ms']);
const minRequestTimeoutS = Number(opt['min-request-timeout']);
const expectedAuth = `Bearer ${opt.token}`;

// ---- the store -------------------------------------------------------------------------------------

/** The global resourceVersion, as a number (served as a string). */
let rv = 100;
/** Watches and continue tokens from before this RV are too old. */
let compactRV = 0;
/** name → { input (normalized), uid, created, heartbeat, rv, item (object), json (item, no type meta) } */
const nodes = new Map();
/** Every change since the last compaction: { rv, type, name, json (the object, no type meta), prev (json or undefined), line } */
let history = [];
const stats = { lists: 0, watches: 0, bookmarks: 0, requests: 0, unauthorized: 0 };
const recent = [];

const timestamp = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const withTypeMeta = (json) => `{"kind":"Node","apiVersion":"v1",${json.slice(1)}`;
const eventLine = (type, json) => `{"type":"${type}","object":${withTypeMeta(json)}}\n`;

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
function normalize(input) {
  if (!input || typeof input !== 'object') throw new Error('a node is an object {name, internalIP?, labels?, annotations?, podCIDR?}');
  const { name, internalIP, labels = {}, annotations = {}, podCIDR } = input;
  if (typeof name !== 'string' || !NAME.test(name)) throw new Error(`node name ${JSON.stringify(name)} is not a DNS subdomain`);
  if (internalIP !== undefined && typeof internalIP !== 'string') throw new Error(`${name}: internalIP must be a string`);
  if (podCIDR !== undefined && typeof podCIDR !== 'string') throw new Error(`${name}: podCIDR must be a string`);
  for (const [what, map] of [['labels', labels], ['annotations', annotations]]) {
    if (typeof map !== 'object' || Array.isArray(map) || Object.values(map).some((v) => typeof v !== 'string'))
      throw new Error(`${name}: ${what} must map strings to strings`);
  }
  const unknown = Object.keys(input).filter((k) => !['name', 'internalIP', 'labels', 'annotations', 'podCIDR'].includes(k));
  if (unknown.length) throw new Error(`${name}: unknown field(s) ${unknown.join(', ')}`);
  return { name, internalIP, labels, annotations, podCIDR };
}

/** A v1 Node as the apiserver serves it (the kubelet's labels and status, the caller's own on top). */
function nodeItem(n) {
  const { name, internalIP, podCIDR } = n.input;
  return {
    metadata: {
      name,
      uid: n.uid,
      resourceVersion: String(n.rv),
      creationTimestamp: n.created,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        ...n.input.labels,
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        ...n.input.annotations,
      },
    },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '41152812Ki', memory: '7869632Ki', pods: '110' },
      allocatable: { cpu: '4', 'ephemeral-storage': '37926431477', memory: '7767232Ki', pods: '110' },
      conditions: [
        { type: 'Ready', status: 'True', lastHeartbeatTime: n.heartbeat, lastTransitionTime: n.created, reason: 'KubeletReady', message: 'kubelet is posting ready status' },
      ],
      addresses: [...(internalIP ? [{ type: 'InternalIP', address: internalIP }] : []), { type: 'Hostname', address: name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: n.uid.replaceAll('-', ''),
        systemUUID: n.uid,
        bootID: n.uid,
        kernelVersion: '5.15.0-105-generic',
        osImage: 'Ubuntu 22.04.4 LTS',
        containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.30.2',
        kubeProxyVersion: 'v1.30.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function store(n) {
  n.item = nodeItem(n);
  n.json = JSON.stringify(n.item);
  nodes.set(n.input.name, n);
}

/** Records one change at a new RV; returns its watch line. */
function record(type, name, json, prev) {
  const line = eventLine(type, json);
  history.push({ rv, type, name, json, prev, line });
  return line;
}

/** Adds or replaces a node: its event type (UNCHANGED: nothing to write) and watch line. */
function put(raw) {
  const input = normalize(raw);
  const old = nodes.get(input.name);
  if (old && JSON.stringify(old.input) === JSON.stringify(input)) return { type: 'UNCHANGED', line: '' };
  rv += 1;
  const now = timestamp();
  const n = old ? { ...old, input, rv } : { input, uid: randomUUID(), created: now, heartbeat: now, rv };
  store(n);
  const type = old ? 'MODIFIED' : 'ADDED';
  return { type, line: record(type, input.name, n.json, old?.json) };
}

function heartbeat(name) {
  const old = nodes.get(name);
  if (!old) return undefined;
  rv += 1;
  const n = { ...old, heartbeat: timestamp(), rv };
  store(n);
  return record('MODIFIED', name, n.json, old.json);
}

function remove(name) {
  const old = nodes.get(name);
  if (!old) return undefined;
  rv += 1;
  nodes.delete(name);
  const json = JSON.stringify({ ...old.item, metadata: { ...old.item.metadata, resourceVersion: String(rv) } });
  return record('DELETED', name, json, old.json);
}

/** name → item json at resourceVersion `at` (≥ compactRV): the current state with later changes undone. */
function stateAt(at) {
  const state = new Map([...nodes].map(([name, n]) => [name, n.json]));
  for (let i = history.length - 1; i >= 0 && history[i].rv > at; i--) {
    const e = history[i];
    if (e.prev === undefined) state.delete(e.name);
    else state.set(e.name, e.prev);
  }
  return state;
}
const sortedNames = (state) => [...state.keys()].sort();

if (opt.nodes) {
  let list;
  try {
    list = JSON.parse(readFileSync(opt.nodes, 'utf8'));
    if (!Array.isArray(list)) throw new Error('expected a JSON array of nodes');
    for (const n of list) put(n);
  } catch (e) {
    die(`--nodes ${opt.nodes}: ${e.message}`);
  }
}

// ---- the API ---------------------------------------------------------------------------------------

const status = (code, reason, message, extra = {}) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...extra, code });
const sendJson = (res, code, body) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};
const tooOld = (what, at) => status(410, 'Expired', `too old resource version: ${what} (${at})`);
const isTrue = (v) => ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v ?? '');

/** Open watches: { res, rv (last delivered), bookmarks, timers, held (lines while hung), ended } */
const watches = new Set();
const sockets = new Set();
/** down: undefined (up), 'refuse' or 'hang'. */
let down;
/** Requests that arrived while hung, answered on up. */
let held = [];

const api = createServer((req, res) => {
  if (down === 'hang') {
    held.push(() => handle(req, res));
    return;
  }
  handle(req, res);
});
api.on('connection', (s) => {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
});

function handle(req, res) {
  if (req.destroyed) return;
  stats.requests += 1;
  const entry = { method: req.method, url: req.url, status: 0 };
  recent.push(entry);
  if (recent.length > 200) recent.shift();
  res.once('finish', () => (entry.status = res.statusCode));
  if (req.headers.authorization !== expectedAuth) {
    stats.unauthorized += 1;
    entry.status = 401;
    return sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
  }
  const url = new URL(req.url ?? '/', 'http://apiserver');
  const q = url.searchParams;
  if (['/readyz', '/livez', '/healthz'].includes(url.pathname)) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    return res.end('ok');
  }
  if (url.pathname === '/version') return sendJson(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.2', platform: 'linux/amd64' });
  const m = /^\/api\/v1\/nodes(?:\/([^/]+))?\/?$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, status(404, 'NotFound', 'the server could not find the requested resource', { details: {} }));
  if (req.method !== 'GET') return sendJson(res, 405, status(405, 'MethodNotAllowed', `the fake apiserver serves only GET on nodes, not ${req.method}`));
  if (q.get('labelSelector') || q.get('fieldSelector')) return sendJson(res, 400, status(400, 'BadRequest', 'the fake apiserver does not implement labelSelector/fieldSelector'));
  if (m[1]) {
    const n = nodes.get(decodeURIComponent(m[1]));
    if (!n) return sendJson(res, 404, status(404, 'NotFound', `nodes "${m[1]}" not found`, { details: { name: m[1], kind: 'nodes' } }));
    return sendJson(res, 200, withTypeMeta(n.json));
  }
  const rvParam = q.get('resourceVersion') ?? '';
  if (rvParam !== '' && !/^\d+$/.test(rvParam))
    return sendJson(res, 400, status(400, 'BadRequest', `resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`));
  // A resourceVersion the server has not reached yet: the apiserver waits up to 3 s for it, then gives up.
  const wanted = Number(rvParam || 0);
  if (wanted > rv) return void waitForRV(wanted, res, () => (isTrue(q.get('watch')) ? watch(req, res, q) : list(res, q)));
  return isTrue(q.get('watch')) ? watch(req, res, q) : list(res, q);
}

function waitForRV(wanted, res, then) {
  const started = Date.now();
  const poll = setInterval(() => {
    if (res.destroyed) return clearInterval(poll);
    if (rv >= wanted) {
      clearInterval(poll);
      then();
    } else if (Date.now() - started >= 3000) {
      clearInterval(poll);
      sendJson(res, 504, status(504, 'Timeout', `Too large resource version: ${wanted}, current: ${rv}`, {
        details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
      }));
    }
  }, 50);
}

function list(res, q) {
  const limit = Number(q.get('limit') ?? 0);
  const token = q.get('continue');
  let at = rv;
  let start = '';
  if (token) {
    let c;
    try {
      c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      if (c.v !== 'meta.k8s.io/v1' || typeof c.rv !== 'number' || typeof c.start !== 'string') throw new Error();
    } catch {
      return sendJson(res, 400, status(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)'));
    }
    if (c.rv < compactRV)
      return sendJson(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.'));
    at = c.rv;
    start = c.start;
  } else if (q.get('resourceVersionMatch') === 'Exact') {
    at = Number(q.get('resourceVersion') ?? rv);
    if (at < compactRV) return sendJson(res, 410, tooOld(at, compactRV));
  }
  const state = at === rv ? new Map([...nodes].map(([name, n]) => [name, n.json])) : stateAt(at);
  const names = sortedNames(state).filter((n) => n >= start);
  const page = limit > 0 ? names.slice(0, limit) : names;
  const metadata = { resourceVersion: String(at) };
  if (page.length < names.length) {
    const last = page[page.length - 1];
    metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: at, start: `${last}\u0000` })).toString('base64url');
    metadata.remainingItemCount = names.length - page.length;
  }
  stats.lists += 1;
  sendJson(res, 200, `{"kind":"NodeList","apiVersion":"v1","metadata":${JSON.stringify(metadata)},"items":[${page.map((n) => state.get(n)).join(',')}]}`);
}

function watch(req, res, q) {
  stats.watches += 1;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const rvParam = q.get('resourceVersion') ?? '';
  const w = { res, rv, bookmarks: isTrue(q.get('allowWatchBookmarks')), timers: [], held: '', ended: false };
  const initial = rvParam === '' || rvParam === '0' || isTrue(q.get('sendInitialEvents'));
  if (initial) {
    const lines = sortedNames(nodes).map((name) => eventLine('ADDED', nodes.get(name).json));
    if (isTrue(q.get('sendInitialEvents')) && w.bookmarks)
      lines.push(`{"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"${rv}","annotations":{"k8s.io/initial-events-end":"true"}}}}\n`);
    if (lines.length) res.write(lines.join(''));
  } else {
    const from = Number(rvParam);
    if (from < compactRV) {
      res.end(`{"type":"ERROR","object":${JSON.stringify(tooOld(from, compactRV))}}\n`);
      return;
    }
    const replay = history.filter((e) => e.rv > from).map((e) => e.line);
    if (replay.length) res.write(replay.join(''));
  }
  watches.add(w);
  const timeoutS = q.get('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : minRequestTimeoutS * (1 + Math.random());
  w.timers.push(setTimeout(() => endWatch(w), timeoutS * 1000));
  if (w.bookmarks && bookmarkMs > 0) w.timers.push(setInterval(() => bookmark(w), bookmarkMs));
  const gone = () => {
    for (const t of w.timers) clearTimeout(t);
    watches.delete(w);
  };
  res.once('close', gone);
}

/** Ends a watch's stream cleanly (after `last`); while hung, once the server is up again. */
function endWatch(w, last = '') {
  w.ended = true;
  if (down === 'hang') w.held += last;
  else w.res.end(last);
}

function bookmark(w) {
  if (down === 'hang' || w.ended) return;
  stats.bookmarks += 1;
  w.rv = rv;
  w.res.write(`{"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"${rv}"}}}\n`);
}

function broadcast(lines) {
  if (!lines) return;
  for (const w of watches) {
    if (w.ended) continue;
    w.rv = rv;
    if (down === 'hang') w.held += lines;
    else w.res.write(lines);
  }
}

// ---- the admin API ---------------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text.trim() ? JSON.parse(text) : undefined);
      } catch (e) {
        reject(new Error(`body is not JSON: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}

function goDown(mode) {
  if (mode !== 'refuse' && mode !== 'hang') throw new Error(`down mode ${JSON.stringify(mode)}: expected "refuse" or "hang"`);
  if (down) throw new Error(`already down (${down})`);
  down = mode;
  if (mode === 'refuse') {
    api.close();
    for (const s of sockets) s.destroy();
    watches.clear();
  }
}

async function goUp() {
  if (!down) return;
  const was = down;
  down = undefined;
  if (was === 'refuse') {
    await new Promise((resolve, reject) => {
      api.once('error', reject);
      api.listen(listenPort, listenHost, () => {
        api.off('error', reject);
        resolve();
      });
    });
    return;
  }
  for (const w of [...watches]) {
    const lines = w.held;
    w.held = '';
    if (w.ended) w.res.end(lines);
    else if (lines) w.res.write(lines);
  }
  const pending = held;
  held = [];
  for (const run of pending) run();
}

const admin = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://admin');
    const body = await readBody(req);
    const route = `${req.method} ${url.pathname}`;
    const del = /^\/nodes\/([^/]+)$/.exec(url.pathname);
    if (route === 'GET /stats') {
      return sendJson(res, 200, {
        lists: stats.lists,
        watches: stats.watches,
        openWatches: watches.size,
        resourceVersion: String(rv),
        nodes: nodes.size,
        bookmarks: stats.bookmarks,
        requests: stats.requests,
        unauthorized: stats.unauthorized,
        compactedResourceVersion: String(compactRV),
        down: down ?? null,
      });
    }
    if (route === 'GET /requests') return sendJson(res, 200, recent);
    if (route === 'GET /info') return sendJson(res, 200, { listen: `${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${listenPort}`, pid: process.pid });
    if (route === 'POST /nodes') {
      const { type, line } = put(body);
      broadcast(line);
      return sendJson(res, 200, { type, resourceVersion: String(rv) });
    }
    if (req.method === 'DELETE' && del) {
      const name = decodeURIComponent(del[1]);
      const line = remove(name);
      if (!line) return sendJson(res, 404, { error: `no node ${name}` });
      broadcast(line);
      return sendJson(res, 200, { type: 'DELETED', resourceVersion: String(rv) });
    }
    if (route === 'POST /bulk') {
      const list = Array.isArray(body) ? body : body?.nodes;
      if (!Array.isArray(list)) throw new Error('POST /bulk takes a JSON array of nodes');
      const inputs = list.map(normalize); // all or nothing: validate before the first write
      const counts = { ADDED: 0, MODIFIED: 0, UNCHANGED: 0 };
      const lines = [];
      for (const input of inputs) {
        const { type, line } = put(input);
        counts[type] += 1;
        lines.push(line);
      }
      broadcast(lines.join(''));
      return sendJson(res, 200, { added: counts.ADDED, modified: counts.MODIFIED, unchanged: counts.UNCHANGED, resourceVersion: String(rv) });
    }
    if (route === 'POST /heartbeat') {
      const names = body?.names ?? sortedNames(nodes);
      const missing = names.filter((n) => !nodes.has(n));
      if (missing.length) return sendJson(res, 404, { error: `no node ${missing.join(', ')}` });
      broadcast(names.map(heartbeat).join(''));
      return sendJson(res, 200, { modified: names.length, resourceVersion: String(rv) });
    }
    if (route === 'POST /bump') {
      rv += 1;
      return sendJson(res, 200, { resourceVersion: String(rv) });
    }
    if (route === 'POST /compact') {
      compactRV = rv;
      history = [];
      let closed = 0;
      for (const w of watches) {
        if (w.ended) continue;
        closed += 1;
        endWatch(w, `{"type":"ERROR","object":${JSON.stringify(tooOld(w.rv, compactRV))}}\n`);
      }
      return sendJson(res, 200, { resourceVersion: String(rv), closedWatches: closed });
    }
    if (route === 'POST /down') {
      goDown(body?.mode ?? 'refuse');
      return sendJson(res, 200, { down });
    }
    if (route === 'POST /up') {
      await goUp();
      return sendJson(res, 200, { down: null });
    }
    sendJson(res, 404, { error: `no admin route ${route}` });
  } catch (e) {
    sendJson(res, 400, { error: e.message });
  }
});

// ---- start and stop --------------------------------------------------------------------------------

function shutdown() {
  for (const s of sockets) s.destroy();
  api.close();
  admin.close();
  rmSync(opt.admin, { force: true });
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (opt['parent-pid']) {
  // a harness that died without killing us (SIGKILL, a crashed worker): do not outlive it
  const parent = Number(opt['parent-pid']);
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      shutdown();
    }
  }, 1000).unref();
}

rmSync(opt.admin, { force: true });
const listening = (server, ...args) =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => {
      server.off('error', reject);
      resolve();
    });
  });
try {
  await listening(api, listenPort, listenHost);
  listenPort = api.address().port;
  await listening(admin, opt.admin);
} catch (e) {
  die(e.message);
}
process.stdout.write('listening\n');
