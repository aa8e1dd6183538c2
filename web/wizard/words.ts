// What the wizard says about an error, in words a marketer understands. The
// service's own messages already say what to do; the reasons listed here get
// a plainer sentence first.
import { Code } from "@connectrpc/connect";

import type { ErasureError } from "../client/src/index.js";

const plain: Record<string, string> = {
  TOKEN_MISSING: "You are not signed in. Open this page from the platform again.",
  TOKEN_INVALID: "Your sign-in has expired. Open this page from the platform again.",
  PERMISSION_MISSING: "Your role does not allow this. Ask an admin or the account owner.",
  FEATURE_NOT_ACTIVATED: "This is not activated for your account. Ask your account manager.",
  FILE_TOO_LARGE: "The file is too large. Split it into smaller files.",
  FILE_EMPTY: "The file is empty.",
  FILE_UNREADABLE: "The file cannot be read as a spreadsheet or CSV file.",
  FILE_TYPE_NOT_SUPPORTED: "Only CSV and Excel (.xlsx) files can be used. Save the file in one of those formats.",
  FILE_HAS_NO_ROWS: "The file has no rows below its header.",
  SHEET_EMPTY: "The sheet is empty.",
  COLUMN_NOT_FOUND: "The column was not found in the file.",
  TOO_MANY_ACTIVE_JOBS: "Too many deletions are running for your account. Wait for one to finish.",
  TOO_MANY_UPLOADS: "Too many files are being uploaded for your account. Wait a little and try again.",
  UPLOAD_ALREADY_USED: "This file was already used for a deletion. Upload it again to run another.",
  UPLOAD_IN_USE: "This file is being used by a running deletion.",
  SECTION_NOT_VISIBLE: "That section is not one you may see.",
  OUTCOMES_PURGED: "The rows of this report were deleted after the retention period; the totals remain.",
};

/** describe returns the sentences to show for an error. */
export function describe(err: ErasureError): string {
  const first = plain[err.reason];
  if (err.reason === "" && (err.code === Code.Unknown || err.code === Code.Unavailable)) {
    return "The connection to the service was lost. Check your network; the page keeps trying.";
  }
  if (err.code === Code.Internal) {
    return "Something went wrong on our side. Try again; if it happens again, contact support.";
  }
  return first ? `${first} (${err.message})` : err.message;
}

const numbers = new Intl.NumberFormat("en");

/** n writes a count for people: 1,234. */
export function n(v: bigint | number | undefined): string {
  return numbers.format(Number(v ?? 0));
}
