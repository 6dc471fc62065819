/**
 * The cluster's Nodes, list-watched with the official client's informer (@kubernetes/client-node,
 * loaded only by the command that watches). The informer watches from its list's resourceVersion,
 * resumes a watch that ends and relists on 410 Gone by itself; on any other failure it stops. Then,
 * after a backoff, a new informer lists afresh (a resumed watch could loop on a resourceVersion the
 * server no longer knows), while the last snapshot stays in use. A watch that goes silent (a network
 * partition gives no error at all) is noticed by its missing bookmarks and replaced the same way.
 */
import type { Informer as K8sInformer, ObjectCache, V1Node } from '@kubernetes/client-node';
import type { NodeObject } from '../crossvpc/cluster-nodes.js';

/** makeInformer returns a ListWatch; its type says less than the object has. */
type Informer = K8sInformer<V1Node> & ObjectCache<V1Node> & { latestResourceVersion(): string };

export interface NodeWatch {
  /** The Nodes as last seen. */
  snapshot(): NodeObject[];
  stop(): void;
}

export interface NodeWatchEvents {
  /** A Node was added, changed or deleted (also each one of a list). */
  change(): void;
  /** The list or watch failed; a new one starts after `retryInS`. */
  error(e: Error, retryInS: number): void;
  /** A list succeeded (the first, or after a failure): the snapshot is the cluster's. */
  listed?(): void;
}

export interface NodeWatchOptions {
  backoffMaxS: number;
  /** Without any event or bookmark for this long, the watch is taken for dead and replaced. */
  silentS: number;
}

export async function watchNodes(kubeconfig: string, on: NodeWatchEvents, o: NodeWatchOptions): Promise<NodeWatch> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CoreV1Api);

  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let lastSign = Date.now();
  let lastVersion = '';
  let current: Informer | undefined;
  let snapshotOf: Informer | undefined; // the informer whose cache is the cluster's (it has listed)

  function start(): void {
    const informer = k8s.makeInformer<V1Node>(kc, '/api/v1/nodes?allowWatchBookmarks=true', async () => {
      const list = await api.listNode();
      // the informer puts the items in its cache right after this resolves
      setImmediate(() => {
        if (informer !== current) return;
        failures = 0;
        snapshotOf = informer;
        on.listed?.();
      });
      return list;
    }) as Informer;
    current = informer;
    const changed = () => {
      lastSign = Date.now();
      if (informer === snapshotOf) on.change();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (err: unknown) => {
      if (stopped || informer !== current) return;
      const retryInS = Math.min(2 ** failures++, o.backoffMaxS);
      on.error(err instanceof Error ? err : new Error(String(err)), retryInS);
      void informer.stop();
      retry = setTimeout(start, retryInS * 1000);
    });
    lastSign = Date.now();
    void informer.start().catch(() => undefined); // a failure goes to 'error'
  }

  // bookmarks move the resourceVersion without an event: either one is a sign of life
  const watchdog = setInterval(() => {
    if (!current || stopped) return;
    const version = current.latestResourceVersion();
    if (version !== lastVersion) (lastVersion = version), (lastSign = Date.now());
    if (Date.now() - lastSign < o.silentS * 1000) return;
    on.error(new Error(`no event or bookmark for ${o.silentS}s`), 0);
    void current.stop();
    clearTimeout(retry);
    start();
  }, Math.min(o.silentS * 1000, 30_000) / 3);

  start();
  return {
    snapshot: () => (snapshotOf?.list() ?? []) as NodeObject[],
    stop: () => {
      stopped = true;
      clearTimeout(retry);
      clearInterval(watchdog);
      void current?.stop();
    },
  };
}
