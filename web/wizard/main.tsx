// The delete wizard, served by erasured at "/": the help article's import
// wizard (choose, upload, map the column, overview, run) and the import
// history with each job's report. It talks to the service only through
// @erasure/client.
import { Code, ConnectError } from "@connectrpc/connect";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import {
  createErasureClient,
  IdentifierType,
  JobAction,
  JobState,
  newRequestId,
  Outcome,
  PreviewState,
  runJob,
  runPreview,
  toErasureError,
  uploadFile,
  watchJob,
  type ErasureClient,
  type ErasureError,
  type GetJobReportResponse,
  type InspectUploadResponse,
  type Job,
  type PreviewDeletionResponse,
  type PreviewUnsubscribeResponse,
  type RowOutcome,
} from "../client/src/index.js";
import { Segments } from "./segments.js";
import { describe, n } from "./words.js";

// Sign-in. In production the host application gives the page its bearer
// token: it defines window.erasureToken, a function returning the token (or
// a promise of it), before loading the page; the page asks it before every
// call, so the host can renew tokens. For local use, `make run` prints a URL
// with a development token in the fragment (#token=…), which browsers never
// send to a server: the page keeps it in this tab's sessionStorage and
// removes it from the address bar.
declare global {
  interface Window {
    erasureToken?: () => string | Promise<string>;
  }
}

const tokenKey = "erasure.token";
const jobKey = "erasure.running-job";

function tokenSource(): (() => string | Promise<string>) | undefined {
  if (typeof window.erasureToken === "function") {
    return window.erasureToken;
  }
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(m[1]!));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = sessionStorage.getItem(tokenKey);
  return token ? () => token : undefined;
}

const typeNames: Record<number, string> = {
  [IdentifierType.EMAIL]: "E-mail address",
  [IdentifierType.PHONE]: "Phone number",
  [IdentifierType.CRM_ID]: "CRM ID",
};

const outcomeNames: Record<number, string> = {
  [Outcome.DELETED]: "Deleted",
  [Outcome.NOT_FOUND]: "Not found",
  [Outcome.INVALID]: "Invalid",
  [Outcome.DUPLICATE]: "Duplicate",
  [Outcome.UNSUBSCRIBED]: "Unsubscribed",
  [Outcome.ALREADY_UNSUBSCRIBED]: "Already unsubscribed",
  [Outcome.NO_LONGER_MATCHES]: "No longer in the segment",
};

const stateNames: Record<number, string> = {
  [JobState.QUEUED]: "Queued",
  [JobState.RUNNING]: "Running",
  [JobState.SUCCEEDED]: "Finished",
  [JobState.CANCELLED]: "Cancelled",
  [JobState.FAILED]: "Failed",
};


function ErrorBox({ err }: { err: ErasureError | undefined }) {
  return err ? (
    <p class="error" role="alert">
      {describe(err)}
    </p>
  ) : null;
}

function Bar({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <div class="bar">
      <progress value={value} max={max || 1} aria-label={label} />
      <span>{label}</span>
    </div>
  );
}

// ---------------------------------------------------------------------------
// The wizard.

type Task = { action: JobAction; type: IdentifierType; region: string; channel: string; topics: string };

type Overview =
  | { kind: "delete"; res: PreviewDeletionResponse }
  | { kind: "unsubscribe"; res: PreviewUnsubscribeResponse };

function Wizard({ client, onEnded }: { client: ErasureClient; onEnded: (job: Job) => void }) {
  const [step, setStep] = useState<"choose" | "upload" | "map" | "overview" | "run">(sessionStorage.getItem(jobKey) ? "run" : "choose");
  const [task, setTask] = useState<Task>({ action: JobAction.DELETE, type: IdentifierType.EMAIL, region: "", channel: "email", topics: "" });
  const [err, setErr] = useState<ErasureError>();
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<[number, number]>([0, 0]);
  const [uploadId, setUploadId] = useState("");
  const [filename, setFilename] = useState("");
  const [inspect, setInspect] = useState<InspectUploadResponse>();
  const [column, setColumn] = useState(0);
  const [overview, setOverview] = useState<Overview>();
  const [job, setJob] = useState<Job>();
  const [rowsRead, setRowsRead] = useState<number>();

  const fail = (e: unknown) => {
    setErr(toErasureError(e));
    setBusy(false);
  };
  const source = () => ({ uploadId, column: { case: "columnNumber" as const, value: column } });
  const spec = () => ({ identifierType: task.type, defaultRegion: task.region });
  const unsubscribe = () => ({
    channel: task.channel,
    topics: task.topics
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  });
  const deleting = task.action === JobAction.DELETE;

  // A job that was running when the page was left: follow it again.
  useEffect(() => {
    const id = sessionStorage.getItem(jobKey);
    if (id) {
      follow(watchJob(client, id, { onUpdate: setJob }));
    }
  }, []);

  function follow(p: Promise<Job>) {
    setStep("run");
    p.then((j) => {
      setJob(j);
      sessionStorage.removeItem(jobKey);
      onEnded(j);
    }).catch((e) => {
      sessionStorage.removeItem(jobKey);
      fail(e);
    });
  }

  async function upload(file: File) {
    setErr(undefined);
    setBusy(true);
    setFilename(file.name);
    try {
      const u = await uploadFile(client, file, file.name, { onProgress: (s, t) => setSent([s, t]) });
      setUploadId(u.uploadId);
      const ins = await client.inspectUpload({ uploadId: u.uploadId });
      setInspect(ins);
      const suggested = ins.suggestions.find((s) => s.identifierType === task.type);
      // No guess when no column looks like the type: the user chooses.
      setColumn(suggested?.columnNumber ?? (ins.columns.length === 1 ? ins.columns[0]!.number : 0));
      setStep("map");
    } catch (e) {
      fail(e);
      return;
    }
    setBusy(false);
  }

  async function preview() {
    // On the server, streaming the rows read, so a big file shows progress
    // and a dropped connection re-attaches (WatchPreview).
    setErr(undefined);
    setBusy(true);
    setRowsRead(0);
    try {
      const status = await runPreview(
        client,
        client.startPreview({ source: source(), spec: spec(), unsubscribe: deleting ? undefined : unsubscribe() }),
        { onUpdate: (s) => setRowsRead(Number(s.rowsRead)) },
      );
      if (status.state !== PreviewState.SUCCEEDED) {
        // A mistake in the file, or a preview whose server stopped: the
        // service's words say which and what to do.
        throw new ConnectError(status.error || "the overview could not be made; try again", Code.FailedPrecondition);
      }
      const r = status.result;
      if (r.case === "deletion") setOverview({ kind: "delete", res: r.value });
      else if (r.case === "unsubscribe") setOverview({ kind: "unsubscribe", res: r.value });
      setStep("overview");
    } catch (e) {
      fail(e);
      setRowsRead(undefined);
      return;
    }
    setRowsRead(undefined);
    setBusy(false);
  }

  async function cancel() {
    // The wizard's Cancel: nothing runs, and the file goes at once.
    setBusy(true);
    try {
      await client.deleteUpload({ uploadId });
    } catch (e) {
      fail(e);
      return;
    }
    reset();
  }

  function reset() {
    setStep("choose");
    setUploadId("");
    setInspect(undefined);
    setOverview(undefined);
    setJob(undefined);
    setErr(undefined);
    setBusy(false);
    setSent([0, 0]);
  }

  function execute() {
    setErr(undefined);
    // Ask once, on this click, whether the browser may tell the user when
    // the job ends while they are in another browser tab.
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    // A request id makes a repeated click (or a retried call) get the same job.
    const requestId = newRequestId();
    const stream = deleting
      ? client.executeDeletion({ source: source(), spec: spec(), requestId })
      : client.executeUnsubscribe({ source: source(), spec: spec(), unsubscribe: unsubscribe(), requestId });
    follow(
      runJob(client, stream, {
        onUpdate: (j) => {
          sessionStorage.setItem(jobKey, j.jobId);
          setJob(j);
        },
      }),
    );
  }

  return (
    <section aria-labelledby="wizard-title">
      <h2 id="wizard-title">{deleting ? "Delete profiles" : "Unsubscribe profiles"} from a file</h2>
      <ol class="steps" aria-label="Steps">
        {["Choose", "Upload", "Map", "Overview", "Run"].map((name, i) => (
          <li aria-current={["choose", "upload", "map", "overview", "run"].indexOf(step) === i ? "step" : undefined}>{name}</li>
        ))}
      </ol>
      <ErrorBox err={err} />

      {step === "choose" && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setStep("upload");
          }}
        >
          <fieldset>
            <legend>What should happen to the profiles in the file?</legend>
            <label>
              <input type="radio" name="action" checked={deleting} onChange={() => setTask({ ...task, action: JobAction.DELETE })} /> Delete them, with
              all their data in every section
            </label>
            <label>
              <input type="radio" name="action" checked={!deleting} onChange={() => setTask({ ...task, action: JobAction.UNSUBSCRIBE })} /> Unsubscribe
              them (they stay, with their history)
            </label>
          </fieldset>
          {!deleting && (
            <>
              <label>
                Channel to unsubscribe from <input value={task.channel} onInput={(e) => setTask({ ...task, channel: e.currentTarget.value })} required />
              </label>
              <label>
                Topics, separated by commas (empty for every topic){" "}
                <input value={task.topics} onInput={(e) => setTask({ ...task, topics: e.currentTarget.value })} />
              </label>
            </>
          )}
          <label>
            Unique Identifier in the file{" "}
            <select value={task.type} onChange={(e) => setTask({ ...task, type: Number(e.currentTarget.value) as IdentifierType })}>
              {[IdentifierType.EMAIL, IdentifierType.PHONE, IdentifierType.CRM_ID].map((t) => (
                <option value={t}>{typeNames[t]}</option>
              ))}
            </select>
          </label>
          {task.type === IdentifierType.PHONE && (
            <label>
              Country of numbers written without one (such as SE){" "}
              <input value={task.region} maxLength={2} onInput={(e) => setTask({ ...task, region: e.currentTarget.value.toUpperCase() })} />
            </label>
          )}
          <p class="warning" role="note">
            Only profiles created with this type of Unique Identifier are matched. If two profiles share an e-mail address but one was created
            with a CRM ID, deleting by e-mail removes only the one created with the e-mail address.
          </p>
          <button type="submit">Next: upload the file</button>
        </form>
      )}

      {step === "upload" && (
        <div>
          <label>
            CSV or Excel file with one {typeNames[task.type]?.toLowerCase()} per row{" "}
            <input
              type="file"
              accept=".csv,.txt,.tsv,.xlsx"
              disabled={busy}
              onChange={(e) => {
                const f = e.currentTarget.files?.[0];
                if (f) upload(f);
              }}
            />
          </label>
          {sent[1] > 0 && <Bar value={sent[0]} max={sent[1]} label={`${n(sent[0])} of ${n(sent[1])} bytes sent`} />}
          <button type="button" class="secondary" onClick={reset} disabled={busy}>
            Back
          </button>
        </div>
      )}

      {step === "map" && inspect && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            preview();
          }}
        >
          <p>
            <strong>{filename}</strong>
            {inspect.sheet && ` – sheet ${inspect.sheet}`}. Which column holds the {typeNames[task.type]?.toLowerCase()}?
          </p>
          <table>
            <caption>Columns of the file, with their first values</caption>
            <thead>
              <tr>
                <th scope="col">Use</th>
                <th scope="col">Column</th>
                <th scope="col">First values</th>
              </tr>
            </thead>
            <tbody>
              {inspect.columns.map((c) => {
                const suggested = inspect.suggestions.some((s) => s.identifierType === task.type && s.columnNumber === c.number);
                return (
                  <tr>
                    <td>
                      <input
                        type="radio"
                        name="column"
                        id={`column-${c.number}`}
                        checked={column === c.number}
                        onChange={() => setColumn(c.number)}
                        aria-label={`Column ${c.letter} ${c.name}`}
                      />
                    </td>
                    <td>
                      <label for={`column-${c.number}`}>
                        {c.letter} {c.name} {suggested && <em>(suggested)</em>}
                      </label>
                    </td>
                    <td>{c.samples.slice(0, 3).join(", ")}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {rowsRead !== undefined && (
            <div class="bar">
              <progress aria-label="Reading the file" />
              <span>Reading the file: {n(rowsRead)} rows so far</span>
            </div>
          )}
          {column === 0 && (
            <p class="warning" role="note">
              No column looks like {typeNames[task.type]?.toLowerCase()}s: choose the column that holds them, or go back and choose another type.
            </p>
          )}
          <button type="submit" disabled={busy || column === 0}>
            {busy ? "Checking the file…" : "Next: overview"}
          </button>
          <button type="button" class="secondary" onClick={cancel} disabled={busy}>
            Cancel
          </button>
        </form>
      )}

      {step === "overview" && overview && (
        <OverviewPanel overview={overview} busy={busy} onExecute={execute} onCancel={cancel} />
      )}

      {step === "run" && <Running job={job} onAgain={reset} />}
    </section>
  );
}

function OverviewPanel({ overview, busy, onExecute, onCancel }: { overview: Overview; busy: boolean; onExecute: () => void; onCancel: () => void }) {
  const res = overview.res;
  const c = res.counts!;
  const deleting = overview.kind === "delete";
  const hidden = overview.kind === "delete" ? overview.res.hiddenSectionProfiles : 0n;
  return (
    <div>
      <h3>Overview – nothing has changed yet</h3>
      <dl class="counts">
        <dt>Rows</dt>
        <dd>{n(c.rows)}</dd>
        <dt>{deleting ? "Profiles to delete" : "Profiles matched"}</dt>
        <dd data-testid="matched">{n(c.matched)}</dd>
        <dt>Not found</dt>
        <dd>{n(c.notFound)}</dd>
        <dt>Invalid</dt>
        <dd>{n(c.invalid)}</dd>
        <dt>Duplicates</dt>
        <dd>{n(c.duplicate)}</dd>
      </dl>
      {res.warnings.map((w) => (
        <p class="warning" role="alert">
          {w.message}
        </p>
      ))}
      {hidden > 0n && (
        <p class="warning" role="alert">
          {n(hidden)} of these profiles also hold data in sections you cannot see. Deleting removes it there too: check with an admin or the account
          owner first.
        </p>
      )}
      {res.sections.length > 0 && (
        <table>
          <caption>Profiles with data in each section</caption>
          <tbody>
            {res.sections.map((s) => (
              <tr>
                <th scope="row">{s.sectionId}</th>
                <td>{n(s.profiles)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Rows title="First invalid rows" rows={res.invalidSamples} />
      <button type="button" class={deleting ? "danger" : ""} onClick={onExecute} disabled={busy || c.matched === 0n}>
        {deleting ? `Delete ${n(c.matched)} profiles` : `Unsubscribe ${n(c.matched)} profiles`}
      </button>
      <button type="button" class="secondary" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
    </div>
  );
}

function Rows({ title, rows }: { title: string; rows: RowOutcome[] }) {
  if (rows.length === 0) return null;
  return (
    <table>
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">Row</th>
          <th scope="col">Value</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            <td>{n(r.row)}</td>
            <td>{r.value}</td>
            <td>{r.reason || r.hint || (r.duplicateOfRow ? `the same as row ${n(r.duplicateOfRow)}` : "")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Running({ job, onAgain }: { job: Job | undefined; onAgain: () => void }) {
  if (!job) return <p>Connecting to the job…</p>;
  const c = job.counts!;
  const total = Number(c.totalRows);
  const done = Number(c.rows);
  const rate = job.progress?.rowsPerSecond ?? 0;
  const eta = job.progress?.eta ? Number(job.progress.eta.seconds) : undefined;
  const ended = job.state >= JobState.SUCCEEDED;
  return (
    <div aria-live="polite">
      <h3>
        {job.filename || "Job"}: {stateNames[job.state]}
      </h3>
      <Bar
        value={done}
        max={total || done || 1}
        label={`${n(done)} of ${total ? n(total) : "?"} rows` + (!ended && rate > 0 ? `, ${n(Math.round(rate))} rows/s` : "") + (!ended && eta !== undefined ? `, about ${eta} s left` : "")}
      />
      <p data-testid="job-result">
        {job.action === JobAction.UNSUBSCRIBE ? `${n(c.unsubscribed)} unsubscribed` : `${n(c.deleted)} deleted`}, {n(c.notFound)} not found,{" "}
        {n(c.invalid)} invalid, {n(c.duplicate)} duplicates.
      </p>
      {job.error && <p class="error">{job.error}</p>}
      {ended && (
        <button type="button" onClick={onAgain}>
          Start another
        </button>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------
// The import history, with each job's Delete Report.

function History({ client }: { client: ErasureClient }) {
  const [jobs, setJobs] = useState<Job[]>();
  const [err, setErr] = useState<ErasureError>();
  const [open, setOpen] = useState<string>();
  useEffect(() => {
    client.listJobs({ pageSize: 50 }).then((r) => setJobs(r.jobs), (e) => setErr(toErasureError(e)));
  }, []);
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">Import history</h2>
      <ErrorBox err={err} />
      {jobs && jobs.length === 0 && <p>No deletions yet.</p>}
      {jobs && jobs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">File</th>
              <th scope="col">Status</th>
              <th scope="col">Result</th>
              <th scope="col">Report</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <>
                <tr>
                  <td>{j.createTime ? new Date(Number(j.createTime.seconds) * 1000).toLocaleString() : ""}</td>
                  <td>{j.filename || j.column}</td>
                  <td>{stateNames[j.state]}</td>
                  <td>{j.action === JobAction.UNSUBSCRIBE ? `${n(j.counts?.unsubscribed)} unsubscribed` : `${n(j.counts?.deleted)} deleted`}</td>
                  <td>
                    <button type="button" class="secondary" aria-expanded={open === j.jobId} onClick={() => setOpen(open === j.jobId ? undefined : j.jobId)}>
                      Delete Report
                    </button>
                  </td>
                </tr>
                {open === j.jobId && (
                  <tr>
                    <td colSpan={5}>
                      <Report client={client} job={j} />
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Report({ client, job }: { client: ErasureClient; job: Job }) {
  const [rep, setRep] = useState<GetJobReportResponse>();
  const [err, setErr] = useState<ErasureError>();
  const [link, setLink] = useState<{ url: string; name: string }>();
  useEffect(() => {
    client.getJobReport({ jobId: job.jobId }).then(setRep, (e) => setErr(toErasureError(e)));
  }, [job.jobId]);
  async function download() {
    try {
      const parts: Uint8Array[] = [];
      let name = "report.csv";
      for await (const m of client.downloadReport({ jobId: job.jobId })) {
        if (m.filename) name = m.filename;
        parts.push(m.data);
      }
      setLink({ url: URL.createObjectURL(new Blob(parts as BlobPart[], { type: "text/csv" })), name });
    } catch (e) {
      setErr(toErasureError(e));
    }
  }
  return (
    <div class="report">
      <ErrorBox err={err} />
      {rep?.outcomes.map((o) => <Rows title={`${outcomeNames[o.outcome]}: ${n(o.count)}`} rows={o.rows} />)}
      {rep?.outcomesPurged && <p>The rows of this report were deleted after the retention period; the totals remain.</p>}
      {!link ? (
        <button type="button" class="secondary" onClick={download} disabled={!rep || rep.outcomesPurged}>
          Prepare the whole report as a file
        </button>
      ) : (
        <a href={link.url} download={link.name}>
          Download {link.name}
        </a>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------

function App() {
  const [source] = useState(tokenSource);
  const [tab, setTab] = useState<"wizard" | "history" | "segments">("wizard");
  const [notice, setNotice] = useState<string>();
  const [client] = useState(() => (source ? createErasureClient({ baseUrl: "/", token: source }) : undefined));
  if (!client) {
    return (
      <main>
        <h1>Delete profiles</h1>
        <p class="error" role="alert">
          You are not signed in. Open this page from the platform, or locally from the address `make run` printed.
        </p>
      </main>
    );
  }
  const ended = (j: Job) => {
    const what = j.action === JobAction.UNSUBSCRIBE ? `${n(j.counts?.unsubscribed)} profiles unsubscribed` : `${n(j.counts?.deleted)} profiles deleted`;
    const text = `${j.filename || "Your job"} ${stateNames[j.state]?.toLowerCase()}: ${what}.`;
    setNotice(text);
    // In another browser tab, the user would not see the page's notice.
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      new Notification("Delete profiles", { body: text });
    }
    document.title = "✓ " + document.title.replace(/^✓ /, "");
  };
  return (
    <main>
      <h1>Delete profiles</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}{" "}
          <button type="button" class="secondary" onClick={() => setNotice(undefined)}>
            Dismiss
          </button>
        </p>
      )}
      <nav role="tablist" aria-label="Views">
        <button role="tab" aria-selected={tab === "wizard"} onClick={() => setTab("wizard")}>
          Delete or unsubscribe
        </button>
        <button role="tab" aria-selected={tab === "history"} onClick={() => setTab("history")}>
          Import history
        </button>
        <button role="tab" aria-selected={tab === "segments"} onClick={() => setTab("segments")}>
          Segments
        </button>
      </nav>
      {/* The wizard stays mounted on the other tab, so a running job goes on being followed. */}
      <div hidden={tab !== "wizard"}>
        <Wizard client={client} onEnded={ended} />
      </div>
      {tab === "history" && <History client={client} />}
      <div hidden={tab !== "segments"}>
        <Segments client={client} say={describe} Running={Running} onEnded={ended} />
      </div>
    </main>
  );
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading…" placeholder
render(<App />, root);
