// Typed errors: every refusal of erasure carries, besides its code and a
// message for a person, a google.rpc.ErrorInfo (domain "erasure.v1") with a
// stable reason and metadata, and a google.rpc.BadRequest naming the request
// field at fault. The reasons are listed in proto/erasure/v1/erasure.proto.
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

/** An error of a call to erasure, with what programs need to act on it. */
export class ErasureError extends Error {
  /** The status code. */
  readonly code: Code;
  /** The stable reason, such as "UPLOAD_NOT_FOUND"; "" when the service sent none (a broken connection). */
  readonly reason: string;
  /** Values such as the upload id, the limit or the offset to resume from. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The request fields at fault. */
  readonly fields: readonly string[];
  /** The error as the transport raised it. */
  readonly cause: ConnectError;

  constructor(cause: ConnectError, reason: string, metadata: Record<string, string>, fields: string[]) {
    super(cause.rawMessage);
    this.name = "ErasureError";
    this.code = cause.code;
    this.reason = reason;
    this.metadata = metadata;
    this.fields = fields;
    this.cause = cause;
  }

  /**
   * Whether trying the same call again may succeed: the service or the
   * connection was away (UNAVAILABLE, a broken connection, a deadline),
   * not the request wrong.
   */
  get retryable(): boolean {
    return this.code === Code.Unavailable || this.code === Code.DeadlineExceeded || (this.code === Code.Unknown && this.reason === "") ||
      this.code === Code.Aborted;
  }
}

/** toErasureError turns anything a call threw into an ErasureError. */
export function toErasureError(err: unknown): ErasureError {
  if (err instanceof ErasureError) {
    return err;
  }
  const ce = ConnectError.from(err);
  let reason = "";
  let metadata: Record<string, string> = {};
  const fields: string[] = [];
  for (const d of ce.details) {
    if (!("type" in d)) {
      continue;
    }
    try {
      if (d.type === "google.rpc.ErrorInfo") {
        ({ reason, metadata } = decodeErrorInfo(d.value));
      } else if (d.type === "google.rpc.BadRequest") {
        fields.push(...decodeBadRequestFields(d.value));
      }
    } catch {
      // A detail that does not decode is left out, as ConnectError.findDetails does.
    }
  }
  return new ErasureError(ce, reason, metadata, fields);
}

// The two messages are decoded by hand: three and two fields, not worth
// generating googleapis' error_details.proto for.

/** google.rpc.ErrorInfo: reason = 1, domain = 2, metadata = 3 (map<string, string>). */
function decodeErrorInfo(bytes: Uint8Array): { reason: string; metadata: Record<string, string> } {
  const r = new BinaryReader(bytes);
  let reason = "";
  const metadata: Record<string, string> = {};
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) {
      reason = r.string();
    } else if (no === 3) {
      const entry = new BinaryReader(r.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [n, w] = entry.tag();
        if (n === 1) key = entry.string();
        else if (n === 2) value = entry.string();
        else entry.skip(w);
      }
      metadata[key] = value;
    } else {
      r.skip(wt);
    }
  }
  return { reason, metadata };
}

/** google.rpc.BadRequest: field_violations = 1, each with field = 1. */
function decodeBadRequestFields(bytes: Uint8Array): string[] {
  const r = new BinaryReader(bytes);
  const fields: string[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1) {
      r.skip(wt);
      continue;
    }
    const v = new BinaryReader(r.bytes());
    while (v.pos < v.len) {
      const [n, w] = v.tag();
      if (n === 1) fields.push(v.string());
      else v.skip(w);
    }
  }
  return fields;
}
