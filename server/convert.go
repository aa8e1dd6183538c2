package server

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/tabular"
)

// The API's enums and the domain's, paired. A domain value missing here
// becomes the API's UNSPECIFIED.
var (
	identifierTypes = map[identifier.Type]erasurev1.IdentifierType{
		identifier.Email: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL,
		identifier.Phone: erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE,
		identifier.CRMID: erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID,
	}
	jobStates = map[job.State]erasurev1.JobState{
		job.Queued:    erasurev1.JobState_JOB_STATE_QUEUED,
		job.Running:   erasurev1.JobState_JOB_STATE_RUNNING,
		job.Succeeded: erasurev1.JobState_JOB_STATE_SUCCEEDED,
		job.Cancelled: erasurev1.JobState_JOB_STATE_CANCELLED,
		job.Failed:    erasurev1.JobState_JOB_STATE_FAILED,
	}
	jobKinds = map[job.Kind]erasurev1.JobKind{
		job.FromFile:    erasurev1.JobKind_JOB_KIND_FILE,
		job.FromList:    erasurev1.JobKind_JOB_KIND_LIST,
		job.FromProfile: erasurev1.JobKind_JOB_KIND_PROFILE,
		job.FromSegment: erasurev1.JobKind_JOB_KIND_SEGMENT,
	}
	jobActions = map[job.Action]erasurev1.JobAction{
		job.Delete:      erasurev1.JobAction_JOB_ACTION_DELETE,
		job.Unsubscribe: erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE,
	}
	outcomes = map[job.Outcome]erasurev1.Outcome{
		job.Deleted:             erasurev1.Outcome_OUTCOME_DELETED,
		job.NotFound:            erasurev1.Outcome_OUTCOME_NOT_FOUND,
		job.Invalid:             erasurev1.Outcome_OUTCOME_INVALID,
		job.Duplicate:           erasurev1.Outcome_OUTCOME_DUPLICATE,
		job.Unsubscribed:        erasurev1.Outcome_OUTCOME_UNSUBSCRIBED,
		job.AlreadyUnsubscribed: erasurev1.Outcome_OUTCOME_ALREADY_UNSUBSCRIBED,
		job.NoLongerMatches:     erasurev1.Outcome_OUTCOME_NO_LONGER_MATCHES,
	}
	auditActions = map[job.AuditAction]erasurev1.AuditAction{
		job.Started:         erasurev1.AuditAction_AUDIT_ACTION_JOB_STARTED,
		job.CancelRequested: erasurev1.AuditAction_AUDIT_ACTION_JOB_CANCEL_REQUESTED,
		job.Finished:        erasurev1.AuditAction_AUDIT_ACTION_JOB_FINISHED,
	}
	formats = map[tabular.Format]erasurev1.FileFormat{
		tabular.CSV:  erasurev1.FileFormat_FILE_FORMAT_CSV,
		tabular.XLSX: erasurev1.FileFormat_FILE_FORMAT_XLSX,
	}
)

// fromProto returns the domain value paired with p, or the zero value (which
// the domain refuses with a message naming the choices).
func fromProto[D comparable, P comparable](pairs map[D]P, p P) D {
	for d, q := range pairs {
		if q == p {
			return d
		}
	}
	var zero D
	return zero
}

func spec(p *erasurev1.DeletionSpec) deletion.Spec {
	return deletion.Spec{Type: fromProto(identifierTypes, p.GetIdentifierType()), DefaultRegion: p.GetDefaultRegion()}
}

func fileOptions(p *erasurev1.FileOptions) deletion.FileOptions {
	o := deletion.FileOptions{Sheet: p.GetSheet()}
	switch p.GetHeader() {
	case erasurev1.HeaderMode_HEADER_MODE_PRESENT:
		o.Header = job.HeaderPresent
	case erasurev1.HeaderMode_HEADER_MODE_ABSENT:
		o.Header = job.HeaderAbsent
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

func uploadProto(u *job.Upload) *erasurev1.Upload {
	return &erasurev1.Upload{
		UploadId:      u.ID,
		AccountId:     u.AccountID,
		Filename:      u.Filename,
		ReceivedBytes: u.Length,
		Complete:      u.Complete,
		CreateTime:    timestamppb.New(u.CreatedAt),
		ExpireTime:    timestamppb.New(u.ExpiresAt),
	}
}

func countsProto(c job.Counts) *erasurev1.Counts {
	return &erasurev1.Counts{
		TotalRows: c.TotalRows,
		Rows:      c.Rows,
		Valid:     c.Valid,
		Invalid:   c.Invalid,
		Duplicate: c.Duplicate,
		Matched:   c.Matched,
		NotFound:  c.NotFound,
		Deleted:   c.Deleted,

		Unsubscribed:        c.Unsubscribed,
		AlreadyUnsubscribed: c.AlreadyUnsubscribed,
		NoLongerMatching:    c.NoLongerMatching,
	}
}

func sectionsProto(list []job.SectionCount) []*erasurev1.SectionCount {
	out := make([]*erasurev1.SectionCount, len(list))
	for i, s := range list {
		out[i] = &erasurev1.SectionCount{SectionId: s.SectionID, Profiles: s.Profiles, Unsubscribed: s.Unsubscribed}
	}
	return out
}

func timeProto(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func jobProto(v job.View) *erasurev1.Job {
	j, p := &v.Job, v.Progress
	out := &erasurev1.Job{
		JobId:     j.ID,
		AccountId: j.AccountID,
		Kind:      jobKinds[j.Kind],
		State:     jobStates[j.State],
		Filename:  j.File.Filename,
		Sheet:     j.File.Sheet,
		Column:    j.Column,
		Counts:    countsProto(j.Counts),
		Progress: &erasurev1.Progress{
			Percent:       p.Percent,
			RowsPerSecond: p.RowsPerSecond,
		},
		Sections:           sectionsProto(v.Sections),
		CancelRequested:    j.CancelRequested,
		Error:              j.Error,
		CreateTime:         timestamppb.New(j.CreatedAt),
		StartTime:          timeProto(j.StartedAt),
		FinishTime:         timeProto(j.FinishedAt),
		OutcomesExpireTime: timeProto(j.OutcomesExpireAt),
		QueuePosition:      v.QueuePosition,
		CreatedBy:          actorProto(j.CreatedBy),
		Action:             jobActions[j.Action],
		SnapshotId:         j.SnapshotID,
	}
	if j.Action == job.Unsubscribe {
		f := j.Unsubscribe
		out.Unsubscribe = &erasurev1.UnsubscribeSpec{Channel: f.Channel, Topics: f.Topics, Sections: f.Sections}
	}
	if p.ETA > 0 {
		out.Progress.Eta = durationpb.New(p.ETA.Round(time.Second))
	}
	if j.IdentifierType != 0 {
		out.Spec = &erasurev1.DeletionSpec{IdentifierType: identifierTypes[j.IdentifierType], DefaultRegion: j.DefaultRegion}
	}
	return out
}

func outcomeProto(o job.RowOutcome) *erasurev1.RowOutcome {
	return &erasurev1.RowOutcome{
		Row:            o.Row,
		Value:          o.Value,
		Normalized:     o.Normalized,
		Outcome:        outcomes[o.Outcome],
		Reason:         o.Reason,
		DuplicateOfRow: o.DuplicateOfRow,
		ProfileId:      o.ProfileID,
		Hint:           o.Hint,
		Consents:       consentRefsProto(o.Consents),
	}
}

func previewDeletionProto(p *deletion.Preview) *erasurev1.PreviewDeletionResponse {
	return &erasurev1.PreviewDeletionResponse{
		Counts:                countsProto(p.Counts),
		Sections:              sectionsProto(p.Sections),
		HasHeader:             p.HasHeader,
		HiddenSectionProfiles: p.HiddenSectionProfiles,
		InvalidSamples:        outcomesProto(p.InvalidSamples),
		HintSamples:           outcomesProto(p.HintSamples),
		OtherKeyTypeRows:      p.OtherKeyTypeRows,
		AlreadyErasedRows:     p.AlreadyErasedRows,
		Warnings:              warningsProto(p.Warnings),
	}
}

func previewUnsubscribeProto(p *deletion.Preview) *erasurev1.PreviewUnsubscribeResponse {
	return &erasurev1.PreviewUnsubscribeResponse{
		Counts:            countsProto(p.Counts),
		Sections:          sectionsProto(p.Sections),
		HasHeader:         p.HasHeader,
		InvalidSamples:    outcomesProto(p.InvalidSamples),
		HintSamples:       outcomesProto(p.HintSamples),
		OtherKeyTypeRows:  p.OtherKeyTypeRows,
		AlreadyErasedRows: p.AlreadyErasedRows,
		Warnings:          warningsProto(p.Warnings),
	}
}

var previewStates = map[string]erasurev1.PreviewState{
	deletion.PreviewRunning:   erasurev1.PreviewState_PREVIEW_STATE_RUNNING,
	deletion.PreviewSucceeded: erasurev1.PreviewState_PREVIEW_STATE_SUCCEEDED,
	deletion.PreviewFailed:    erasurev1.PreviewState_PREVIEW_STATE_FAILED,
	deletion.PreviewCancelled: erasurev1.PreviewState_PREVIEW_STATE_CANCELLED,
	deletion.PreviewLost:      erasurev1.PreviewState_PREVIEW_STATE_LOST,
}

func previewStatusProto(r deletion.PreviewRun) *erasurev1.PreviewStatus {
	out := &erasurev1.PreviewStatus{PreviewId: r.ID, State: previewStates[r.State], RowsRead: r.Rows, Error: r.Error}
	switch {
	case r.Result == nil:
	case r.Result.Action == job.Unsubscribe:
		out.Result = &erasurev1.PreviewStatus_Unsubscribe{Unsubscribe: previewUnsubscribeProto(r.Result)}
	default:
		out.Result = &erasurev1.PreviewStatus_Deletion{Deletion: previewDeletionProto(r.Result)}
	}
	return out
}

func reportProto(r *deletion.Report) *erasurev1.GetJobReportResponse {
	out := &erasurev1.GetJobReportResponse{
		Job:              jobProto(r.View),
		RowsNotProcessed: r.RowsNotProcessed,
		OutcomesPurged:   r.OutcomesPurged,
	}
	for _, o := range r.Outcomes {
		out.Outcomes = append(out.Outcomes, &erasurev1.OutcomeSummary{Outcome: outcomes[o.Outcome], Count: o.Count, Rows: outcomesProto(o.First)})
	}
	return out
}

func outcomesProto(list []job.RowOutcome) []*erasurev1.RowOutcome {
	var out []*erasurev1.RowOutcome
	for _, o := range list {
		out = append(out, outcomeProto(o))
	}
	return out
}

func warningsProto(list []deletion.Warning) []*erasurev1.PreviewWarning {
	var out []*erasurev1.PreviewWarning
	for _, w := range list {
		out = append(out, &erasurev1.PreviewWarning{Reason: w.Reason, Message: w.Message})
	}
	return out
}

func consentRefsProto(refs []profile.ConsentRef) []*erasurev1.ConsentRef {
	var out []*erasurev1.ConsentRef
	for _, r := range refs {
		out = append(out, &erasurev1.ConsentRef{SectionId: r.SectionID, Channel: r.Channel, Topic: r.Topic})
	}
	return out
}

func actorProto(a job.Actor) *erasurev1.Actor {
	return &erasurev1.Actor{Subject: a.Subject, Kind: a.Kind, Role: a.Role}
}

func auditEventProto(e job.AuditEvent) *erasurev1.AuditEvent {
	return &erasurev1.AuditEvent{
		EventId:        e.ID,
		Time:           timestamppb.New(e.At),
		Action:         auditActions[e.Action],
		Actor:          actorProto(e.Actor),
		JobId:          e.JobID,
		JobKind:        jobKinds[e.JobKind],
		JobAction:      jobActions[e.JobAction],
		JobState:       jobStates[e.State],
		Counts:         countsProto(e.Counts),
		IdentifierType: identifierTypes[e.IdentifierType],
	}
}

func erasureProto(e job.Erasure) *erasurev1.Erasure {
	return &erasurev1.Erasure{JobId: e.JobID, Row: e.Row, JobKind: jobKinds[e.JobKind], Time: timestamppb.New(e.At)}
}
