/**
 * What the listener and the prober say to each other. TCP: on accept, the listener writes one line
 * naming the address it saw. UDP: the prober sends a request with a random token, the listener echoes
 * the token with the address it saw, so that a stray or stale datagram never counts as an answer.
 */
const MAGIC = 'knit-netcheck/1';

export const tcpGreeting = (seenAs: string): string => `${MAGIC} ${seenAs}\n`;

/** The address the listener saw, once the greeting's line is complete; undefined before (or when it is not knit's). */
export function parseTcpGreeting(received: string): { seenAs: string } | undefined {
  const m = new RegExp(`^${MAGIC} (\\S+)\\n`).exec(received);
  return m ? { seenAs: m[1]! } : undefined;
}

export const udpRequest = (token: string): string => `${MAGIC} ? ${token}`;

/** The reply to a request (undefined: not a netcheck request, do not answer). */
export function udpReply(request: string, seenAs: string): string | undefined {
  const m = new RegExp(`^${MAGIC} \\? ([0-9a-f]{8,64})$`).exec(request);
  return m ? `${MAGIC} ! ${m[1]} ${seenAs}` : undefined;
}

/** The address the listener saw, when `reply` answers the request carrying `token`. */
export function parseUdpReply(reply: string, token: string): { seenAs: string } | undefined {
  const m = new RegExp(`^${MAGIC} ! ([0-9a-f]+) (\\S+)$`).exec(reply);
  return m && m[1] === token ? { seenAs: m[2]! } : undefined;
}
