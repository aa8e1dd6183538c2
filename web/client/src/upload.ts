// A resumable chunked upload, for clients that cannot stream a request body
// (browsers): CreateUpload, then UploadChunk at the offset the service has
// reached, and after a broken connection GetUpload to learn that offset.
import type { Client } from "@connectrpc/connect";

import type { Upload } from "./gen/erasure/v1/erasure_pb.js";
import { ErasureService } from "./gen/erasure/v1/erasure_pb.js";
import { toErasureError } from "./errors.js";
import { attemptsOf, delayOf, sleep, type Retry } from "./retry.js";

/**
 * The default chunk: 1,044,480 bytes, four of the store's 255 KiB pieces, so
 * the service stores every chunk whole (see UploadChunk in the proto); at
 * most 4 MiB may be sent at once.
 */
export const DEFAULT_CHUNK_BYTES = 4 * 261_120;

export interface UploadOptions {
  /** The account; empty means the token's. */
  accountId?: string;
  /** Bytes per UploadChunk call; DEFAULT_CHUNK_BYTES by default. */
  chunkBytes?: number;
  /** Called after every chunk the service stored, with the bytes it holds. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** Stops the upload; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Resume this upload (from a page reloaded mid-upload) instead of creating one. */
  uploadId?: string;
  retry?: Retry;
}

/**
 * uploadFile sends file to erasure in chunks and resolves with the complete
 * upload. A chunk whose answer is lost (the connection broke, the service
 * restarted) is not sent blindly again: the upload's state is read back with
 * GetUpload and sending goes on from the offset the service has. It gives up
 * after the retry's attempts in a row without progress, with an
 * ErasureError; a refusal (file too large, wrong account) is thrown at once.
 */
export async function uploadFile(client: Client<typeof ErasureService>, file: Blob, filename: string, opts: UploadOptions = {}): Promise<Upload> {
  const { accountId = "", signal } = opts;
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const total = file.size;
  let failures = 0;
  // Calls that only read or create are retried the same way as chunks.
  const patiently = async <T>(call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await call();
      } catch (e) {
        const err = toErasureError(e);
        if (!err.retryable || signal?.aborted || ++failures > attemptsOf(opts.retry)) {
          throw err;
        }
        await sleep(delayOf(opts.retry, failures), signal);
      }
    }
  };
  let upload = opts.uploadId
    ? (await patiently(() => client.getUpload({ accountId, uploadId: opts.uploadId! }, { signal }))).upload
    : (await patiently(() => client.createUpload({ metadata: { accountId, filename } }, { signal }))).upload;
  if (!upload) {
    throw new Error("erasure answered without the upload");
  }
  const uploadId = upload.uploadId;
  let offset = Number(upload.receivedBytes);
  opts.onProgress?.(offset, total);
  while (!upload.complete) {
    const end = Math.min(offset + chunk, total);
    const data = new Uint8Array(await file.slice(offset, end).arrayBuffer());
    try {
      const res = await client.uploadChunk({ accountId, uploadId, offset: BigInt(offset), data, last: end === total }, { signal });
      upload = res.upload!;
      failures = 0;
    } catch (e) {
      const err = toErasureError(e);
      if (err.reason === "UPLOAD_OFFSET_MISMATCH" && err.metadata["received_bytes"] !== undefined) {
        // Another try of this chunk got through: go on from where the service is.
        offset = Number(err.metadata["received_bytes"]);
        continue;
      }
      if (!err.retryable || signal?.aborted || ++failures > attemptsOf(opts.retry)) {
        throw err;
      }
      await sleep(delayOf(opts.retry, failures), signal);
      // The chunk may have been stored before the connection broke.
      upload = (await patiently(() => client.getUpload({ accountId, uploadId }, { signal }))).upload!;
    }
    offset = Number(upload.receivedBytes);
    opts.onProgress?.(offset, total);
  }
  return upload;
}
