/**
 * Secrets (an AccessKey secret, a bootstrap token's secret half, a certificate key) are registered once
 * and masked in every line knit prints or logs, dry-run included.
 */
const secrets = new Set<string>();
export const MASK = '********';

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  return out;
}
