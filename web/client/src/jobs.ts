// Following a job to its end: the stream of the call that started it, and
// after a dropped stream (a restarted service, a lost connection) WatchJob,
// which re-attaches to the job wherever it runs.
import type { Client } from "@connectrpc/connect";

import { ErasureService, JobState, PreviewState, type Job, type PreviewStatus } from "./gen/erasure/v1/erasure_pb.js";
import { toErasureError } from "./errors.js";
import { attemptsOf, delayOf, sleep, type Retry } from "./retry.js";

export interface FollowOptions {
  /** Called with every state of the job, at least once a second while it runs. */
  onUpdate?: (job: Job) => void;
  /** Stops following (the job goes on on the server). */
  signal?: AbortSignal;
  /** The account; empty means the token's. */
  accountId?: string;
  retry?: Retry;
}

/** ended reports whether a job is in a final state. */
export function ended(job: Job | undefined): boolean {
  return job !== undefined && job.state >= JobState.SUCCEEDED;
}

/**
 * runJob consumes the stream of a call that starts a job (ExecuteDeletion,
 * DeleteIdentifiers, ExecuteSegmentDeletion, ExecuteUnsubscribe …) and
 * resolves with the job once it ended. If the stream breaks after the job
 * began, it re-attaches with WatchJob until the job ends. If it breaks before
 * the first message, the job's id is unknown and the error is thrown: the
 * job history (ListJobs) shows whether it started.
 */
export async function runJob(client: Client<typeof ErasureService>, start: AsyncIterable<{ job?: Job }>, opts: FollowOptions = {}): Promise<Job> {
  let last: Job | undefined;
  try {
    for await (const res of start) {
      if (res.job) {
        last = res.job;
        opts.onUpdate?.(last);
      }
    }
    if (ended(last)) {
      return last!;
    }
  } catch (e) {
    const err = toErasureError(e);
    if (!last || !err.retryable || opts.signal?.aborted) {
      throw err;
    }
  }
  if (!last) {
    throw new Error("the call ended without starting a job");
  }
  return watchJob(client, last.jobId, opts);
}

/**
 * watchJob follows a job by id until it ends, re-attaching after a dropped
 * stream, and resolves with the ended job. It gives up after the retry's
 * attempts in a row without a message.
 */
export async function watchJob(client: Client<typeof ErasureService>, jobId: string, opts: FollowOptions = {}): Promise<Job> {
  let failures = 0;
  let last: Job | undefined;
  for (;;) {
    try {
      for await (const res of client.watchJob({ accountId: opts.accountId ?? "", jobId }, { signal: opts.signal })) {
        if (res.job) {
          last = res.job;
          failures = 0;
          opts.onUpdate?.(last);
        }
      }
      if (ended(last)) {
        return last!;
      }
    } catch (e) {
      const err = toErasureError(e);
      if (!err.retryable || opts.signal?.aborted || ++failures > attemptsOf(opts.retry)) {
        throw err;
      }
    }
    await sleep(delayOf(opts.retry, Math.max(failures, 1)), opts.signal);
  }
}

export interface PreviewFollowOptions {
  /** Called with every status of the preview: rows read so far, at least once a second. */
  onUpdate?: (status: PreviewStatus) => void;
  signal?: AbortSignal;
  accountId?: string;
  retry?: Retry;
}

/**
 * runPreview consumes the stream of StartPreview, re-attaching with
 * WatchPreview after a dropped stream, and resolves with the preview's last
 * status: SUCCEEDED with its summary, or FAILED, CANCELLED or LOST with its
 * error.
 */
export async function runPreview(client: Client<typeof ErasureService>, start: AsyncIterable<{ status?: PreviewStatus }>, opts: PreviewFollowOptions = {}): Promise<PreviewStatus> {
  let last: PreviewStatus | undefined;
  let failures = 0;
  let stream = start;
  for (;;) {
    try {
      for await (const res of stream) {
        if (res.status) {
          last = res.status;
          failures = 0;
          opts.onUpdate?.(last);
        }
      }
      if (last && last.state !== PreviewState.RUNNING) {
        return last;
      }
    } catch (e) {
      const err = toErasureError(e);
      if (!last || !err.retryable || opts.signal?.aborted || ++failures > attemptsOf(opts.retry)) {
        throw err;
      }
      await sleep(delayOf(opts.retry, failures), opts.signal);
    }
    if (!last) {
      throw new Error("the preview ended without a status");
    }
    stream = client.watchPreview({ accountId: opts.accountId ?? "", previewId: last.previewId }, { signal: opts.signal });
  }
}

/**
 * newRequestId returns a random request id for a call that starts a job:
 * sending the same id again (a repeated click, a retry) gets the same job.
 * It uses getRandomValues, which pages served over plain HTTP have too.
 */
export function newRequestId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
