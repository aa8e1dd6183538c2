// The segment screens: build a segment of a few conditions, count it, show
// its profiles, export them, and delete them straight from the segment when
// the service offers it (an owner or admin, the feature on, some matches).
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { useState } from "preact/hooks";

import {
  ConsentStatus,
  ExportColumn,
  newRequestId,
  runJob,
  SegmentGroupOp,
  toErasureError,
  type CountSegmentResponse,
  type ErasureClient,
  type ErasureError,
  type Job,
  type PreviewSegmentDeletionResponse,
  type SegmentNode,
  type SegmentProfile,
  type SegmentSectionCount,
} from "../client/src/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SegmentNodeSchema } from "../client/src/index.js";
import { n } from "./words.js";

type Kind = "tag" | "no-tag" | "event" | "no-event" | "consent-in" | "consent-out" | "attribute";

const kinds: Record<Kind, string> = {
  tag: "has tag",
  "no-tag": "has not tag",
  event: "had event within the last days",
  "no-event": "had no event within the last days",
  "consent-in": "is opted in to channel",
  "consent-out": "is opted out of channel",
  attribute: "has attribute equal to",
};

type Condition = { kind: Kind; section: string; name: string; value: string; days: number };

function nodeOf(c: Condition): MessageInitShape<typeof SegmentNodeSchema> {
  const sectionId = c.section.trim();
  switch (c.kind) {
    case "tag":
    case "no-tag":
      return { node: { case: "tag", value: { sectionId, name: c.name, negate: c.kind === "no-tag" } } };
    case "event":
    case "no-event":
      return { node: { case: "event", value: { sectionId, type: c.name, withinDays: c.days, negate: c.kind === "no-event" } } };
    case "consent-in":
    case "consent-out":
      return {
        node: {
          case: "consent",
          value: { sectionId, channel: c.name, status: c.kind === "consent-in" ? ConsentStatus.OPT_IN : ConsentStatus.OPT_OUT },
        },
      };
    case "attribute":
      return { node: { case: "attribute", value: { sectionId, name: c.name, op: 1, value: { kind: { case: "stringValue", value: c.value } } } } };
  }
}


function Sections({ list }: { list: SegmentSectionCount[] }) {
  return (
    <table>
      <caption>Matching profiles with data in each section</caption>
      <tbody>
        {list.map((s) => (
          <tr>
            <th scope="row">
              {s.sectionId}
              {!s.visible && " (a section you cannot see: its data is deleted too)"}
            </th>
            <td>{n(s.profiles)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Segments({
  client,
  say,
  Running,
  onEnded,
}: {
  client: ErasureClient;
  say: (e: ErasureError) => string;
  Running: (p: { job: Job | undefined; onAgain: () => void }) => preact.JSX.Element;
  onEnded: (job: Job) => void;
}) {
  const [join, setJoin] = useState<"all" | "any">("all");
  const [conds, setConds] = useState<Condition[]>([{ kind: "tag", section: "", name: "", value: "", days: 1095 }]);
  const [at, setAt] = useState<Timestamp>();
  const [count, setCount] = useState<CountSegmentResponse>();
  const [shown, setShown] = useState<SegmentProfile[]>();
  const [preview, setPreview] = useState<PreviewSegmentDeletionResponse>();
  const [job, setJob] = useState<Job>();
  const [link, setLink] = useState<{ url: string; name: string }>();
  const [err, setErr] = useState<ErasureError>();
  const [busy, setBusy] = useState(false);

  const segment = () => ({ root: { op: join === "all" ? SegmentGroupOp.ALL : SegmentGroupOp.ANY, children: conds.map(nodeOf) as SegmentNode[] } });
  const edit = (i: number, c: Partial<Condition>) => {
    setConds(conds.map((x, j) => (j === i ? { ...x, ...c } : x)));
    setCount(undefined);
    setShown(undefined);
    setPreview(undefined);
    setLink(undefined);
  };
  const act = async (f: () => Promise<void>) => {
    setErr(undefined);
    setBusy(true);
    try {
      await f();
    } catch (e) {
      setErr(toErasureError(e));
    }
    setBusy(false);
  };

  const doCount = () =>
    act(async () => {
      // One evaluation time for the count and what follows it.
      const now = timestampFromDate(new Date());
      setAt(now);
      setCount(await client.countSegment({ segment: segment(), evaluationTime: now }));
      setShown(undefined);
      setPreview(undefined);
      setLink(undefined);
    });
  const doShow = () => act(async () => setShown((await client.showSegmentProfiles({ segment: segment(), evaluationTime: at, pageSize: 20 })).profiles));
  const doExport = () =>
    act(async () => {
      const parts: Uint8Array[] = [];
      let name = "segment.csv";
      for await (const m of client.exportSegment({ segment: segment(), evaluationTime: at, columns: [ExportColumn.EMAIL, ExportColumn.KEY] })) {
        if (m.filename) name = m.filename;
        parts.push(m.data);
      }
      setLink({ url: URL.createObjectURL(new Blob(parts as BlobPart[], { type: "text/csv" })), name });
    });
  const doPreview = () => act(async () => setPreview(await client.previewSegmentDeletion({ segment: segment(), evaluationTime: at })));
  const doDelete = () =>
    act(async () => {
      const j = await runJob(client, client.executeSegmentDeletion({ snapshotId: preview!.snapshotId, expectedProfiles: preview!.profiles, requestId: newRequestId() }), { onUpdate: setJob });
      setJob(j);
      onEnded(j);
    });

  if (job) {
    return (
      <section aria-labelledby="segments-title">
        <h2 id="segments-title">Delete from a segment</h2>
        <Running
          job={job}
          onAgain={() => {
            setJob(undefined);
            setPreview(undefined);
            setCount(undefined);
          }}
        />
      </section>
    );
  }
  return (
    <section aria-labelledby="segments-title">
      <h2 id="segments-title">Segments</h2>
      {err && (
        <p class="error" role="alert">
          {say(err)}
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          doCount();
        }}
      >
        <label>
          Profiles matching{" "}
          <select value={join} onChange={(e) => setJoin(e.currentTarget.value as "all" | "any")}>
            <option value="all">all</option>
            <option value="any">any</option>
          </select>{" "}
          of these conditions
        </label>
        {conds.map((c, i) => (
          <fieldset>
            <legend>Condition {i + 1}</legend>
            <label>
              Profile{" "}
              <select value={c.kind} onChange={(e) => edit(i, { kind: e.currentTarget.value as Kind })}>
                {(Object.keys(kinds) as Kind[]).map((k) => (
                  <option value={k}>{kinds[k]}</option>
                ))}
              </select>
            </label>
            <label>
              {c.kind.includes("event") ? "Event type" : c.kind.startsWith("consent") ? "Channel" : c.kind === "attribute" ? "Attribute" : "Tag"}{" "}
              <input value={c.name} required onInput={(e) => edit(i, { name: e.currentTarget.value })} />
            </label>
            {c.kind.includes("event") && (
              <label>
                Days <input type="number" min={1} max={36600} value={c.days} onInput={(e) => edit(i, { days: Number(e.currentTarget.value) })} />
              </label>
            )}
            {c.kind === "attribute" && (
              <label>
                Value <input value={c.value} onInput={(e) => edit(i, { value: e.currentTarget.value })} />
              </label>
            )}
            <label>
              Section (empty for any) <input value={c.section} onInput={(e) => edit(i, { section: e.currentTarget.value })} />
            </label>
            {conds.length > 1 && (
              <button type="button" class="secondary" onClick={() => setConds(conds.filter((_, j) => j !== i))}>
                Remove condition {i + 1}
              </button>
            )}
          </fieldset>
        ))}
        <button type="button" class="secondary" onClick={() => setConds([...conds, { kind: "tag", section: "", name: "", value: "", days: 1095 }])}>
          Add a condition
        </button>
        <button type="submit" disabled={busy}>
          Count profiles
        </button>
      </form>

      {count && (
        <div aria-live="polite">
          <p data-testid="segment-count">
            {n(count.profiles)} profiles match
            {count.undecidedProfiles > 0n && `; ${n(count.undecidedProfiles)} could not be checked because some of their data cannot be read`}.
          </p>
          {count.sections.length > 0 && <Sections list={count.sections} />}
          <button type="button" class="secondary" onClick={doShow} disabled={busy || count.profiles === 0n}>
            Show profiles
          </button>
          <button type="button" class="secondary" onClick={doExport} disabled={busy || count.profiles === 0n}>
            Export as a file
          </button>
          {link && (
            <a href={link.url} download={link.name}>
              Download {link.name}
            </a>
          )}
          {count.deletionOffered ? (
            <button type="button" class="danger" onClick={doPreview} disabled={busy}>
              Delete these profiles…
            </button>
          ) : (
            <p class="note">Deleting from this segment is not offered: {count.deletionUnavailableMessage}.</p>
          )}
        </div>
      )}

      {shown && (
        <table>
          <caption>First matching profiles</caption>
          <thead>
            <tr>
              <th scope="col">Unique Identifier</th>
              <th scope="col">E-mail</th>
              <th scope="col">Phone</th>
              <th scope="col">CRM ID</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr>
                <td>{p.keyValue}</td>
                <td>{p.email}</td>
                <td>{p.phone}</td>
                <td>{p.crmId}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {preview && (
        <div role="region" aria-label="Confirm the deletion">
          <h3>Delete {n(preview.profiles)} profiles?</h3>
          <p>
            These are the profiles matching now. Each one is checked again just before it is deleted; a profile that no longer matches is kept.
            Deleting removes all their data in every section, and cannot be undone. Confirm before{" "}
            {preview.expireTime ? new Date(Number(preview.expireTime.seconds) * 1000).toLocaleTimeString() : "the preview expires"}.
          </p>
          <Sections list={preview.sections} />
          <button type="button" class="danger" onClick={doDelete} disabled={busy}>
            Delete {n(preview.profiles)} profiles
          </button>
          <button type="button" class="secondary" onClick={() => setPreview(undefined)} disabled={busy}>
            Cancel
          </button>
        </div>
      )}
    </section>
  );
}
