// What every fake tool does before its own work: log the call, and the failure-injection knobs.
//
//   FAKE_LOG=<file>        each call's argv, one JSON array per line; a call's number is its line number
//   FAKE_RESULTS=<file>    how each call ended, one JSON object per line: {"call": argv, "exitCode": n} once
//                          its work is done (before any hang after it), {"call": argv, "hanging": "before"|"after"}
//   FAKE_FAIL=<regex>      a call whose space-joined argv ("kubectl --kubeconfig … apply …") matches fails
//                          with exit 1 before doing anything
//   FAKE_HANG_AT=<n>[:after]  call number n sleeps until it is killed: before its work, or (`:after`) once
//                          its work is done, its output written and its result recorded
//   FAKE_HANG_RELEASE=<file>  …or until this file exists; then the call goes on as if it had not slept
//   FAKE_TRANSCRIPT=<file> each call also appends `fake call: <argv>` here (a test points knit's stderr at
//                          the same file, opened for appending, to see which step made which call)
//
// Not an executable: the fakes on PATH import it.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/** Long enough for any test to kill the hanging call; bounded so that a forgotten one does not live on. */
const HANG_MS = 60_000;
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Sleeps until released (true), or false after HANG_MS. */
function sleepUntilReleased() {
  const release = process.env.FAKE_HANG_RELEASE;
  for (let slept = 0; slept < HANG_MS; slept += 20) {
    if (release && existsSync(release)) return true;
    sleep(20);
  }
  return false;
}

const record = (entry) => {
  if (process.env.FAKE_RESULTS) appendFileSync(process.env.FAKE_RESULTS, `${JSON.stringify(entry)}\n`);
};

/** The number of this call among all logged calls (1-based); 0 when nothing is logged. */
function logCall(call) {
  const log = process.env.FAKE_LOG;
  if (!log) return 0;
  appendFileSync(log, `${JSON.stringify(call)}\n`);
  if (process.env.FAKE_TRANSCRIPT) appendFileSync(process.env.FAKE_TRANSCRIPT, `fake call: ${call.join(' ')}\n`);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
}

function parseHangAt(value) {
  const m = /^(\d+)(?::(before|after))?$/.exec(value ?? '');
  return m ? { at: Number(m[1]), when: m[2] ?? 'before' } : undefined;
}

/** Logs the call, applies the knobs, and returns the tool's arguments (argv without the tool's name). */
export function beginFakeCall(tool) {
  const args = process.argv.slice(2);
  const call = [tool, ...args];
  const number = logCall(call);
  const hangAt = parseHangAt(process.env.FAKE_HANG_AT);
  const hangsHere = (when) => hangAt !== undefined && hangAt.at === number && hangAt.when === when;

  process.on('exit', (exitCode) => {
    record({ call, exitCode });
    if (hangsHere('after')) {
      record({ call, hanging: 'after' });
      sleepUntilReleased();
    }
  });
  if (hangsHere('before')) {
    record({ call, hanging: 'before' });
    if (!sleepUntilReleased()) {
      process.stderr.write(`fake ${tool}: nobody killed or released call ${number} (FAKE_HANG_AT=${process.env.FAKE_HANG_AT})\n`);
      process.exit(99);
    }
  }
  const fail = process.env.FAKE_FAIL;
  if (fail && new RegExp(fail).test(call.join(' '))) {
    process.stderr.write(`fake failure injected (FAKE_FAIL=${fail}): ${call.join(' ')}\n`);
    process.exit(1);
  }
  return args;
}
