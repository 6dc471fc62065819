/** Constructors for check results, so every check reads as `pass(...)`, `warn(...)`, `fail(...)`. */
import type { CheckResult, CheckStatus, Fix } from './types.js';

const result = (status: CheckStatus) => (id: string, reason: string, fix?: Fix): CheckResult =>
  fix ? { id, status, reason, fix } : { id, status, reason };

export const pass = result('pass');
export const warn = result('warn');
export const fail = result('fail');
