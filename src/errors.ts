/** Every failure knit reports maps to one exit code; the CLI has the one catch that turns them into it. */
export const ExitCode = {
  ok: 0,
  stepFailed: 1,
  badInput: 2,
  preflightFailed: 3,
  cloudCredentials: 4,
  cancelled: 130,
} as const;

export abstract class KnitError extends Error {
  abstract readonly exitCode: number;
  /** Extra lines printed after the one-line message (output tail, hints). */
  details: string[] = [];
  constructor(message: string, details: string[] = []) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Bad input: one line naming the field, before anything is changed. */
export class UsageError extends KnitError {
  readonly exitCode = ExitCode.badInput;
}

/** A step of a plan failed while being applied. */
export class StepError extends KnitError {
  readonly exitCode = ExitCode.stepFailed;
  constructor(
    readonly stepId: string,
    message: string,
    details: string[] = [],
  ) {
    super(message, details);
  }
}

export class PreflightError extends KnitError {
  readonly exitCode = ExitCode.preflightFailed;
}

export class CloudError extends KnitError {
  readonly exitCode = ExitCode.cloudCredentials;
}

export class CancelledError extends KnitError {
  readonly exitCode = ExitCode.cancelled;
  constructor(message = 'cancelled') {
    super(message);
  }
}

/** What the command looks for is not there (e.g. ECS metadata off ECS): exit 1, like a failed step. */
export class NotFoundError extends KnitError {
  readonly exitCode = ExitCode.stepFailed;
}
