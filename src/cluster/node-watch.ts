/**
 * The cluster's Nodes, list-watched with the official client's informer (@kubernetes/client-node,
 * loaded only by the command that watches): it lists, watches from the list's resourceVersion,
 * reconnects when a watch ends, and relists on 410 Gone. It stops on any other error; then it is
 * started again after a backoff, which relists.
 */
import type { NodeObject } from '../crossvpc/cluster-nodes.js';

export interface NodeWatch {
  /** The Nodes as last seen. */
  snapshot(): NodeObject[];
  stop(): void;
}

export interface NodeWatchEvents {
  /** A Node was added, changed or deleted (also each one of the initial list). */
  change(): void;
  /** The list or watch failed; the watch starts again (and relists) after `retryInS`. */
  error(e: Error, retryInS: number): void;
  /** A list succeeded (first, after an error, or after a 410). */
  listed?(): void;
}

export async function watchNodes(kubeconfig: string, on: NodeWatchEvents, backoffMaxS: number): Promise<NodeWatch> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CoreV1Api);
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  const informer = k8s.makeInformer(kc, '/api/v1/nodes', async () => {
    const list = await api.listNode();
    // the informer puts the items in its cache right after this resolves
    setImmediate(() => {
      failures = 0;
      on.listed?.();
    });
    return list;
  });
  informer.on('add', on.change);
  informer.on('update', on.change);
  informer.on('delete', on.change);
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    const retryInS = Math.min(2 ** failures++, backoffMaxS);
    on.error(err instanceof Error ? err : new Error(String(err)), retryInS);
    retry = setTimeout(() => void informer.start().catch(() => undefined), retryInS * 1000);
  });
  await informer.start().catch(() => undefined); // a failure went to 'error', which retries
  return {
    snapshot: () => informer.list() as NodeObject[],
    stop: () => {
      stopped = true;
      clearTimeout(retry);
      void informer.stop();
    },
  };
}
