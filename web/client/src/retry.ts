// Waiting between attempts, for the upload and the job followers.

/** Retry says how often and how patiently a broken call is tried again. */
export interface Retry {
  /** Attempts after the first, in a row without progress; 8 by default. */
  attempts?: number;
  /** The first wait in milliseconds, doubled each time up to 10 seconds; 500 by default. */
  firstDelayMs?: number;
}

export function delayOf(r: Retry | undefined, failures: number): number {
  return Math.min((r?.firstDelayMs ?? 500) * 2 ** (failures - 1), 10_000);
}

export function attemptsOf(r: Retry | undefined): number {
  return r?.attempts ?? 8;
}

/** sleep waits ms milliseconds, or rejects when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
