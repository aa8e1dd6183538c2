// @erasure/client: the web frontend's client of erasure.v1 over Connect-Web.
//
//	const client = createErasureClient({ baseUrl: "https://erasure.example.com", token: () => host.token() });
//	const upload = await uploadFile(client, file, file.name, { onProgress: (sent, total) => … });
//	const job = await runJob(client, client.executeDeletion({ source: { uploadId: upload.uploadId, column: { case: "columnName", value: "Email" } }, spec }), { onUpdate });
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import { ErasureService } from "./gen/erasure/v1/erasure_pb.js";

export * from "./gen/erasure/v1/erasure_pb.js";
export { ErasureError, toErasureError } from "./errors.js";
export { DEFAULT_CHUNK_BYTES, uploadFile, type UploadOptions } from "./upload.js";
export { ended, newRequestId, runJob, runPreview, watchJob, type FollowOptions, type PreviewFollowOptions } from "./jobs.js";
export type { Retry } from "./retry.js";

export type ErasureClient = Client<typeof ErasureService>;

export interface ClientOptions {
  /** The service's address: "" or "/" for the page's own origin. */
  baseUrl: string;
  /**
   * The caller's bearer token, asked for before every call, so that a host
   * application can renew it. It is sent in the Authorization header.
   */
  token: () => string | Promise<string>;
  /** The fetch to use; the global one by default (tests replace it). */
  fetch?: typeof globalThis.fetch;
}

/** createErasureClient returns a client of erasure.v1 over Connect (binary). */
export function createErasureClient(opts: ClientOptions): ErasureClient {
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("Authorization", "Bearer " + (await opts.token()));
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: opts.baseUrl === "" || opts.baseUrl === "/" ? globalThis.location?.origin ?? "" : opts.baseUrl,
    useBinaryFormat: true,
    interceptors: [bearer],
    fetch: opts.fetch,
  });
  return createClient(ErasureService, transport);
}
