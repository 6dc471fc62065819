/**
 * metrics-server scrapes every kubelet. Across VPCs only the InternalIP (the private IP, which knit maps
 * to the public IP) is reachable from a pod: hostnames do not resolve between VPCs and kubeadm sets no
 * ExternalIP. The patch pins the address type, keeping every other argument as it is.
 */
export const METRICS_SERVER = { namespace: 'kube-system', name: 'metrics-server' } as const;

const ADDRESS_TYPES_FLAG = '--kubelet-preferred-address-types';
export const ADDRESS_TYPES_ARG = `${ADDRESS_TYPES_FLAG}=InternalIP`;

/** What the host adapter read from the cluster; absent when metrics-server is not installed. */
export interface MetricsServerFacts {
  container: string;
  args: string[];
}

/** The container's args with the address types pinned; undefined when they already are. */
export function pinAddressTypes(args: readonly string[]): string[] | undefined {
  const i = args.findIndex((a) => a === ADDRESS_TYPES_FLAG || a.startsWith(`${ADDRESS_TYPES_FLAG}=`));
  if (i >= 0 && args[i] === ADDRESS_TYPES_ARG) return undefined;
  if (i < 0) return [...args, ADDRESS_TYPES_ARG];
  // `--flag value` spelled as two args: replace both
  const width = args[i] === ADDRESS_TYPES_FLAG ? 2 : 1;
  return [...args.slice(0, i), ADDRESS_TYPES_ARG, ...args.slice(i + width)];
}

/** A strategic-merge patch: containers merge by name; `args` is a plain list, so it is replaced whole. */
export const metricsServerArgsPatch = (container: string, args: readonly string[]): string =>
  JSON.stringify({ spec: { template: { spec: { containers: [{ name: container, args }] } } } });
