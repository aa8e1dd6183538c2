// The client layer against a real erasured (started by web/client_test.go):
// typed errors, an upload whose answers get lost, and a job whose stream
// drops, each checked against what the service stored.
import { Code } from "@connectrpc/connect";

import { createErasureClient, ErasureError, IdentifierType, JobState, PreviewState, runJob, runPreview, toErasureError, uploadFile } from "../src/index.js";

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

const baseUrl = process.env["ERASURE_URL"]!;
const token = process.env["ERASURE_TOKEN"]!;

function check(ok: boolean, what: string): void {
  if (!ok) {
    throw new Error("FAIL: " + what);
  }
  console.log("ok: " + what);
}

/** A fetch that lets tests break calls on purpose, by procedure. */
type Breaker = (procedure: string, call: number, real: () => Promise<Response>) => Promise<Response>;

function clientWith(breaker?: Breaker) {
  const calls = new Map<string, number>();
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const procedure = url.slice(url.lastIndexOf("/") + 1);
    const n = (calls.get(procedure) ?? 0) + 1;
    calls.set(procedure, n);
    const real = () => globalThis.fetch(input, init);
    return breaker ? breaker(procedure, n, real) : real();
  };
  return { client: createErasureClient({ baseUrl, token: () => token, fetch }), calls };
}

async function typedErrors() {
  const { client } = clientWith();
  try {
    await client.getUpload({ uploadId: "0123456789abcdef01234567" });
    check(false, "GetUpload of an unknown upload fails");
  } catch (e) {
    const err = toErasureError(e);
    check(err instanceof ErasureError && err.code === Code.NotFound && err.reason === "UPLOAD_NOT_FOUND", `an unknown upload is NOT_FOUND with reason UPLOAD_NOT_FOUND (got ${err.code} ${err.reason})`);
    check(err.metadata["upload_id"] === "0123456789abcdef01234567" && !err.retryable, "its metadata names the upload, and it is not retried");
  }
  try {
    await client.previewDeletion({ values: ["ann@example.com"], spec: {} });
    check(false, "a preview without an identifier type fails");
  } catch (e) {
    const err = toErasureError(e);
    check(err.code === Code.InvalidArgument && err.reason === "IDENTIFIER_TYPE_REQUIRED" && err.fields.includes("spec.identifier_type"),
      `a missing identifier type names the field (got ${err.reason} ${err.fields})`);
  }
}

/** The file: demo profiles 1..20 (14 of them keyed by e-mail), then padding. */
function csv(): Blob {
  let s = "Email\n";
  for (let n = 1; n <= 20; n++) {
    s += `person${String(n).padStart(4, "0")}@example.com\n`;
  }
  for (let n = 0; s.length < 700_000; n++) {
    s += `nobody${String(n).padStart(7, "0")}@example.org\n`;
  }
  return new Blob([s]);
}

async function uploadWithLostAnswers(): Promise<string> {
  // The second chunk reaches the service but its answer is lost; the
  // third fails before it is sent.
  const { client, calls } = clientWith(async (procedure, n, real) => {
    if (procedure === "UploadChunk" && n === 2) {
      await real();
      throw new TypeError("network connection lost");
    }
    if (procedure === "UploadChunk" && n === 3) {
      throw new TypeError("network connection lost");
    }
    return real();
  });
  const file = csv();
  const progress: number[] = [];
  const upload = await uploadFile(client, file, "people.csv", { chunkBytes: 261_120, onProgress: (sent) => progress.push(sent), retry: { firstDelayMs: 10 } });
  check(upload.complete && Number(upload.receivedBytes) === file.size, `the upload is complete with all ${file.size} bytes`);
  check(progress.every((p, i) => i === 0 || p >= progress[i - 1]!) && progress[progress.length - 1] === file.size, "progress only grows, to the file's size");
  check((calls.get("GetUpload") ?? 0) === 2, `after each broken chunk the upload's state is read back (${calls.get("GetUpload")} GetUpload)`);
  check((calls.get("UploadChunk") ?? 0) === 4, `no chunk is sent twice once stored: 3 chunks, one sent again (${calls.get("UploadChunk")} UploadChunk)`);
  return upload.uploadId;
}

/** A breaker that cuts the stream of procedure after its first piece. */
function cutAfterFirstPiece(target: string): Breaker {
  return async (procedure, _n, real) => {
    const res = await real();
    if (procedure !== target || !res.body) {
      return res;
    }
    const reader = res.body.getReader();
    let pieces = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        // The first piece (the job's first state) goes through; then the
        // connection breaks. (Erroring in the same pull would drop the
        // piece queued.)
        const { value, done } = pieces++ === 0 ? await reader.read() : { value: undefined, done: true };
        if (done || !value) {
          reader.cancel();
          ctl.error(new TypeError("network connection lost"));
          return;
        }
        ctl.enqueue(value);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

async function previewWithDroppedStream(uploadId: string) {
  const { client, calls } = clientWith(cutAfterFirstPiece("StartPreview"));
  const status = await runPreview(client, client.startPreview({
    source: { uploadId, column: { case: "columnName", value: "Email" } },
    spec: { identifierType: IdentifierType.EMAIL },
  }), { retry: { firstDelayMs: 10 } });
  check((calls.get("WatchPreview") ?? 0) >= 1, `the dropped preview stream was re-attached with WatchPreview (${calls.get("WatchPreview")} calls)`);
  const d = status.result.case === "deletion" ? status.result.value : undefined;
  check(status.state === PreviewState.SUCCEEDED && d?.counts?.matched === 14n, `the preview ended with the 14 e-mail profiles matched (got ${PreviewState[status.state]}, ${d?.counts?.matched})`);
}

async function jobWithDroppedStream(uploadId: string) {
  // The stream of ExecuteDeletion breaks after its first piece.
  const { client, calls } = clientWith(cutAfterFirstPiece("ExecuteDeletion"));
  const updates: JobState[] = [];
  const job = await runJob(client, client.executeDeletion({
    source: { uploadId, column: { case: "columnName", value: "Email" } },
    spec: { identifierType: IdentifierType.EMAIL },
  }), { onUpdate: (j) => updates.push(j.state), retry: { firstDelayMs: 10 } });
  check((calls.get("WatchJob") ?? 0) >= 1, `the dropped stream was re-attached with WatchJob (${calls.get("WatchJob")} calls)`);
  check(job.state === JobState.SUCCEEDED && job.counts?.deleted === 14n, `the job ended SUCCEEDED with the 14 e-mail profiles deleted (got ${JobState[job.state]}, ${job.counts?.deleted})`);
  check(updates.length >= 2 && updates[updates.length - 1] === JobState.SUCCEEDED, "every state was reported, the last one final");
  // The service agrees: the job in the history is the same.
  const { client: plain } = clientWith();
  const got = await plain.getJob({ jobId: job.jobId });
  check(got.job?.counts?.deleted === 14n, "GetJob reports the same deletions");
}

async function main() {
  await typedErrors();
  const uploadId = await uploadWithLostAnswers();
  await previewWithDroppedStream(uploadId);
  await jobWithDroppedStream(uploadId);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
