package server

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/tabular"
	"github.com/erasure-dev/erasure/storage"
)

// identifierTypes pairs the API's identifier types with the domain's.
var identifierTypes = map[erasurev1.IdentifierType]identifier.Type{
	erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL:  identifier.Email,
	erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE:  identifier.Phone,
	erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID: identifier.CRMID,
}

// identifierType returns 0 for an unspecified or unknown type; the domain
// turns that into an error that names the choices.
func identifierType(t erasurev1.IdentifierType) identifier.Type {
	return identifierTypes[t]
}

func identifierTypeProto(t identifier.Type) erasurev1.IdentifierType {
	for p, d := range identifierTypes {
		if d == t {
			return p
		}
	}
	return erasurev1.IdentifierType_IDENTIFIER_TYPE_UNSPECIFIED
}

func spec(p *erasurev1.DeletionSpec) deletion.Spec {
	return deletion.Spec{Type: identifierType(p.GetIdentifierType()), DefaultRegion: p.GetDefaultRegion()}
}

func fileOptions(p *erasurev1.FileOptions) deletion.FileOptions {
	o := deletion.FileOptions{Sheet: p.GetSheet()}
	switch p.GetHeader() {
	case erasurev1.HeaderMode_HEADER_MODE_PRESENT:
		o.Header = deletion.HeaderPresent
	case erasurev1.HeaderMode_HEADER_MODE_ABSENT:
		o.Header = deletion.HeaderAbsent
	}
	return o
}

func fileSource(p *erasurev1.FileSource) deletion.FileSource {
	return deletion.FileSource{
		UploadID:     p.GetUploadId(),
		Options:      fileOptions(p.GetOptions()),
		ColumnName:   p.GetColumnName(),
		ColumnNumber: int(p.GetColumnNumber()),
	}
}

func uploadProto(u *storage.Upload) *erasurev1.Upload {
	return &erasurev1.Upload{
		UploadId:      u.ID.Hex(),
		AccountId:     u.AccountID,
		Filename:      u.Filename,
		ReceivedBytes: u.Length,
		Complete:      u.Complete,
		CreateTime:    timestamppb.New(u.CreatedAt),
		ExpireTime:    timestamppb.New(u.ExpiresAt),
	}
}

func formatProto(f tabular.Format) erasurev1.FileFormat {
	switch f {
	case tabular.CSV:
		return erasurev1.FileFormat_FILE_FORMAT_CSV
	case tabular.XLSX:
		return erasurev1.FileFormat_FILE_FORMAT_XLSX
	}
	return erasurev1.FileFormat_FILE_FORMAT_UNSPECIFIED
}

func countsProto(c storage.Counts) *erasurev1.Counts {
	return &erasurev1.Counts{
		TotalRows: c.TotalRows,
		Rows:      c.Rows,
		Valid:     c.Valid,
		Invalid:   c.Invalid,
		Duplicate: c.Duplicate,
		Matched:   c.Matched,
		NotFound:  c.NotFound,
		Deleted:   c.Deleted,
	}
}

func sectionsProto(list []storage.SectionCount) []*erasurev1.SectionCount {
	out := make([]*erasurev1.SectionCount, len(list))
	for i, s := range list {
		out[i] = &erasurev1.SectionCount{SectionId: s.SectionID, Profiles: s.Profiles}
	}
	return out
}

var (
	jobStates = map[string]erasurev1.JobState{
		storage.JobQueued:    erasurev1.JobState_JOB_STATE_QUEUED,
		storage.JobRunning:   erasurev1.JobState_JOB_STATE_RUNNING,
		storage.JobSucceeded: erasurev1.JobState_JOB_STATE_SUCCEEDED,
		storage.JobCancelled: erasurev1.JobState_JOB_STATE_CANCELLED,
		storage.JobFailed:    erasurev1.JobState_JOB_STATE_FAILED,
	}
	jobKinds = map[string]erasurev1.JobKind{
		storage.KindFile:    erasurev1.JobKind_JOB_KIND_FILE,
		storage.KindList:    erasurev1.JobKind_JOB_KIND_LIST,
		storage.KindProfile: erasurev1.JobKind_JOB_KIND_PROFILE,
	}
	outcomes = map[string]erasurev1.Outcome{
		storage.OutcomeDeleted:   erasurev1.Outcome_OUTCOME_DELETED,
		storage.OutcomeNotFound:  erasurev1.Outcome_OUTCOME_NOT_FOUND,
		storage.OutcomeInvalid:   erasurev1.Outcome_OUTCOME_INVALID,
		storage.OutcomeDuplicate: erasurev1.Outcome_OUTCOME_DUPLICATE,
	}
)

func outcomeName(o erasurev1.Outcome) string {
	for name, p := range outcomes {
		if p == o {
			return name
		}
	}
	return ""
}

func timeProto(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// jobProto converts a job for the caller in ctx: sections the caller's
// token does not list are left out of its per-section counts.
func jobProto(ctx context.Context, j *storage.Job) *erasurev1.Job {
	p := deletion.ProgressOf(j, time.Now())
	out := &erasurev1.Job{
		JobId:     j.ID.Hex(),
		AccountId: j.AccountID,
		Kind:      jobKinds[j.Kind],
		State:     jobStates[j.State],
		Filename:  j.Filename,
		Sheet:     j.Sheet,
		Column:    j.Column,
		Counts:    countsProto(j.Counts),
		Progress: &erasurev1.Progress{
			Percent:       p.Percent,
			RowsPerSecond: p.RowsPerSecond,
		},
		Sections:           sectionsProto(visibleSections(ctx, j.Sections)),
		CancelRequested:    j.CancelRequested,
		Error:              j.Error,
		CreateTime:         timestamppb.New(j.CreatedAt),
		StartTime:          timeProto(j.StartedAt),
		FinishTime:         timeProto(j.FinishedAt),
		OutcomesExpireTime: timeProto(j.OutcomesExpireAt),
		QueuePosition:      j.QueuePosition,
		CreatedBy:          actorProto(j.CreatedBy),
	}
	if p.ETA > 0 {
		out.Progress.Eta = durationpb.New(p.ETA.Round(time.Second))
	}
	if t := deletion.TypeOf(j); t != 0 {
		out.Spec = &erasurev1.DeletionSpec{IdentifierType: identifierTypeProto(t), DefaultRegion: j.DefaultRegion}
	}
	return out
}

func outcomeProto(o storage.Outcome) *erasurev1.RowOutcome {
	return &erasurev1.RowOutcome{
		Row:            o.Row,
		Value:          o.Value,
		Normalized:     o.Normalized,
		Outcome:        outcomes[o.Outcome],
		Reason:         o.Reason,
		DuplicateOfRow: o.DuplicateOfRow,
		ProfileId:      o.ProfileID,
		Hint:           o.Hint,
	}
}

func actorProto(a storage.Actor) *erasurev1.Actor {
	return &erasurev1.Actor{Subject: a.Subject, Kind: a.Kind, Role: a.Role}
}

var auditActions = map[string]erasurev1.AuditAction{
	storage.AuditJobStarted:      erasurev1.AuditAction_AUDIT_ACTION_JOB_STARTED,
	storage.AuditCancelRequested: erasurev1.AuditAction_AUDIT_ACTION_JOB_CANCEL_REQUESTED,
	storage.AuditJobFinished:     erasurev1.AuditAction_AUDIT_ACTION_JOB_FINISHED,
}

func auditEventProto(e storage.AuditEvent) *erasurev1.AuditEvent {
	out := &erasurev1.AuditEvent{
		EventId:  e.ID,
		Time:     timestamppb.New(e.At),
		Action:   auditActions[e.Action],
		Actor:    actorProto(e.Actor),
		JobId:    e.JobID,
		JobKind:  jobKinds[e.JobKind],
		JobState: jobStates[e.State],
		Counts:   countsProto(e.Counts),
	}
	if t, err := identifier.ParseType(e.IdentifierType); err == nil {
		out.IdentifierType = identifierTypeProto(t)
	}
	return out
}

func erasureProto(e storage.Erasure) *erasurev1.Erasure {
	return &erasurev1.Erasure{JobId: e.JobID, Row: e.Row, JobKind: jobKinds[e.JobKind], Time: timestamppb.New(e.At)}
}

// visibleSections returns the section counts the caller may see: all of
// them unless the caller's token lists its sections.
func visibleSections(ctx context.Context, all []storage.SectionCount) []storage.SectionCount {
	p := auth.FromContext(ctx)
	if p == nil || len(p.Sections) == 0 {
		return all
	}
	var out []storage.SectionCount
	for _, c := range all {
		if slices.Contains(p.Sections, c.SectionID) {
			out = append(out, c)
		}
	}
	return out
}
