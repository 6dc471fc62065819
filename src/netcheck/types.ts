/** What `knit netcheck` probes between two nodes, what a probe saw, and what the report says about it. */

export type Role = 'control-plane' | 'worker';
export type ProbeProtocol = 'tcp' | 'udp' | 'ip';

/** One port (or IP protocol) the peer must let through from this node. */
export interface PortProbe {
  /** `6443/tcp`, `8472/udp`, `ip/4`: stable, used in the table and in JSON. */
  id: string;
  protocol: ProbeProtocol;
  /** The port for tcp/udp, the IP protocol number for `ip`. */
  port: number;
  /** Who needs it, e.g. `kube-apiserver`, `flannel VXLAN`. */
  what: string;
  /** Where the need comes from: Kubernetes itself, the CNI's data path, or `--port`. */
  origin: 'kubernetes' | 'cni' | 'extra';
  /** A failure fails the run (exit 1). */
  required: boolean;
}

/** A port the listener answers on (IP protocols cannot be listened on from user space). */
export interface ListenPort {
  protocol: 'tcp' | 'udp';
  port: number;
  what: string;
}

/** How a TCP connect or a UDP exchange failed, from the socket's error. */
export type ProbeFailure =
  /** No answer at all: something dropped the packets (security group, DROP rule, missing NAT). */
  | 'timeout'
  /** A TCP reset or an ICMP port unreachable: the host is reached and nothing listens there. */
  | 'refused'
  /** ICMP host unreachable/prohibited: firewalld's default REJECT, or (same subnet) the host is down. */
  | 'host-unreachable'
  /** This node has no route to the peer. */
  | 'net-unreachable'
  | 'error';

export type PortOutcome =
  | {
      ok: true;
      /** Connect time (TCP) or round trip of the answered datagram (UDP), in milliseconds. */
      ms: number;
      /** The source address the peer's listener saw: this node as seen from the peer (after any NAT). */
      seenAs?: string;
      /** false: a connection was accepted, but not by `knit netcheck --listen` (a real service). */
      byListener: boolean;
    }
  | {
      ok: false;
      failure: ProbeFailure;
      ms: number;
      /** The socket error code or message. */
      message?: string;
      /** UDP: datagrams sent. */
      attempts?: number;
    };

/** One ping with Don't Fragment set, of a packet of `mtu` bytes (IP header included). */
export interface PingAttempt {
  ok: boolean;
  /**
   * The MTU the failure names: a router's ICMP "Frag needed and DF set (mtu = N)", or the kernel's
   * cached path MTU ("local error: message too long, mtu=N").
   */
  hint?: number;
}

export type MtuOutcome =
  | {
      kind: 'measured';
      /** The largest packet that got through (the search stops at the interface MTU). */
      pathMtu: number;
      /** true: pathMtu is this node's interface MTU, so the path may carry more. */
      capped: boolean;
      /** Whether anything told us the MTU (ICMP from a router or the kernel's cache); false below hostMtu: a black hole. */
      icmpSeen: boolean;
      pings: number;
    }
  /** The peer answers no ping at all (ICMP echo blocked): the path MTU cannot be measured. */
  | { kind: 'no-echo'; pings: number }
  /** The measurement could not run (no ping binary, …). */
  | { kind: 'unavailable'; reason: string };

/** The MTU the CNI will use and the packet size that implies on the path between nodes. */
export interface MtuRequirement {
  plugin: string;
  /** The pod interface MTU the CNI will use on this node. */
  podMtu: number;
  /** Encapsulation bytes per packet (VXLAN 50, IPIP 20, WireGuard 80, none 0). */
  overhead: number;
  /** e.g. `VXLAN`, or undefined without encapsulation. */
  encapsulation?: string;
  /** podMtu + overhead: the largest packet the path between the nodes must carry. */
  required: number;
  /** This node's interface MTU toward the peer (the CNI derives podMtu from it). */
  hostMtu: number;
  /** The spec field that sets podMtu (undefined: the plugin takes the interface MTU). */
  field?: string;
  /** Whether the spec sets podMtu explicitly. */
  explicit: boolean;
}

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** One row of the report. */
export interface NetcheckResult {
  id: string;
  protocol: ProbeProtocol | 'icmp';
  /** Port or IP protocol number; undefined for the path MTU. */
  port?: number;
  what: string;
  required: boolean;
  status: CheckStatus;
  detail: string;
  /** The likely cause of a failure or warning. */
  cause?: string;
  /** What to do about it. */
  fix?: string;
  ms?: number;
  seenAs?: string;
}
