/**
 * Image references and where to pull them from: upstream, a mirror reachable from mainland China
 * (`mirror: cn`), or the operator's private registry (`imageRegistry`).
 */
import { IMAGE_MIRRORS } from '../defaults.js';

export interface ImageRef {
  /** Registry host (with port), `docker.io` when the reference names none. */
  registry: string;
  /** Repository path inside the registry, e.g. `calico/node`. */
  path: string;
  /** `:tag` and/or `@digest`, kept as written. */
  suffix: string;
}

/** Splits a reference the way container runtimes do: the first part is a host only when it looks like one. */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf('@');
  const beforeDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = beforeDigest.lastIndexOf(':');
  const nameEnd = colon > beforeDigest.lastIndexOf('/') ? colon : beforeDigest.length;
  const name = image.slice(0, nameEnd);
  const suffix = image.slice(nameEnd);
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost'))
    return { registry: first, path: name.slice(slash + 1), suffix };
  return { registry: 'docker.io', path: slash >= 0 ? name : `library/${name}`, suffix };
}

export const formatImage = (r: ImageRef): string => `${r.registry}/${r.path}${r.suffix}`;

export interface ImageSource {
  mirror: 'none' | 'cn';
  /** A private registry (host[:port][/prefix]) that holds every image under its upstream path. */
  registry?: string;
}

/**
 * A private registry replaces the host and keeps the path (ghcr.io/flannel-io/flannel:v0.28.9 →
 * R/flannel-io/flannel:v0.28.9), the layout `skopeo sync` and registry mirrors produce. The cn
 * mirror prefixes the upstream host (m.daocloud.io/ghcr.io/…); Alibaba's own registries are kept.
 */
export function rewriteImage(image: string, source: ImageSource): string {
  if (source.registry === undefined && source.mirror === 'none') return image;
  const ref = parseImage(image);
  if (source.registry !== undefined) return formatImage({ ...ref, registry: source.registry });
  if (source.mirror === 'cn') {
    const m = IMAGE_MIRRORS.cn;
    if (m.keep.some((host) => ref.registry === host || ref.registry.endsWith(`.${host}`))) return formatImage(ref);
    return formatImage({ ...ref, registry: m.prefix, path: `${ref.registry}/${ref.path}` });
  }
  return image;
}
