package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// tagSegment is "has tag name", in any section.
func tagSegment(name string) *erasurev1.Segment {
	return &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL, Children: []*erasurev1.SegmentNode{
		{Node: &erasurev1.SegmentNode_Tag{Tag: &erasurev1.TagCondition{Name: name}}},
	}}}
}

// inactiveSegment is the article's first use case: no e-mail click in the
// last 36 months.
func inactiveSegment() *erasurev1.Segment {
	return &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL, Children: []*erasurev1.SegmentNode{
		{Node: &erasurev1.SegmentNode_Event{Event: &erasurev1.EventCondition{Type: "email_click", WithinDays: 1095, Negate: true}}},
	}}}
}

// seedSegments stores 30 profiles of acme: every third tagged
// internal_test in section shop, the others in web only; profiles 0 to 9
// clicked an e-mail last month. Another account has a tagged look-alike.
func seedSegments(t *testing.T, e *env) {
	t.Helper()
	var ps []profile.Profile
	for i := range 30 {
		p := profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%d@example.com", i)},
			Email: fmt.Sprintf("p%d@example.com", i), CreatedAt: time.Now(), Sections: []profile.Section{{SectionID: "web"}}}
		if i%3 == 0 {
			p.Sections = append(p.Sections, profile.Section{SectionID: "shop", Tags: []string{"internal_test"}})
		}
		if i < 10 {
			p.Sections[0].Events = []profile.Event{{Type: "email_click", At: time.Now().AddDate(0, -1, 0)}}
		}
		ps = append(ps, p)
	}
	ps = append(ps, profile.Profile{AccountID: "other", Key: profile.Key{Type: identifier.Email, Value: "p0@example.com"},
		Sections: []profile.Section{{SectionID: "shop", Tags: []string{"internal_test"}}}})
	e.seed(t, ps...)
}

// TestSegmentCalls runs every segment call through the Connect client
// (the web frontend's protocol) and the grpc-go client (internal
// services'): counting with the offer and its reasons, showing a page at a
// time, exporting and deleting by the file, and deleting straight from the
// segment with its gates.
func TestSegmentCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	seedSegments(t, e)
	ctx := context.Background()
	owner, user := e.as(t, "acme", auth.Owner), e.as(t, "acme", auth.User)
	at := timestamppb.Now()

	// Counting: every role; the offer depends on role, feature and matches.
	count := func(c interface {
		CountSegment(context.Context, *connect.Request[erasurev1.CountSegmentRequest]) (*connect.Response[erasurev1.CountSegmentResponse], error)
	}, seg *erasurev1.Segment) *erasurev1.CountSegmentResponse {
		t.Helper()
		res, err := c.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: seg, EvaluationTime: at}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}
	got := count(user, tagSegment("internal_test"))
	if got.GetProfiles() != 10 || got.GetDeletionOffered() || got.GetDeletionUnavailableReason() != "PERMISSION_MISSING" ||
		!got.GetEvaluationTime().AsTime().Equal(at.AsTime()) {
		t.Fatalf("a user's count: %v", got)
	}
	if s := segmentSections(got.GetSections()); s != "shop:10 web:10" {
		t.Fatalf("sections %s", s)
	}
	if got := count(owner, tagSegment("internal_test")); got.GetDeletionOffered() || got.GetDeletionUnavailableReason() != "FEATURE_NOT_ACTIVATED" {
		t.Fatalf("an owner's count without the feature: %v", got)
	}
	if err := e.svc.SetFeatures(ctx, "acme", []deletion.Feature{deletion.FileDeletion, deletion.SegmentDeletion}); err != nil {
		t.Fatal(err)
	}
	if got := count(owner, tagSegment("nobody")); got.GetProfiles() != 0 || got.GetDeletionOffered() || got.GetDeletionUnavailableReason() != "NO_MATCHES" {
		t.Fatalf("an owner's count of an empty segment: %v", got)
	}
	if got := count(owner, tagSegment("internal_test")); !got.GetDeletionOffered() || got.GetDeletionUnavailableReason() != "" {
		t.Fatalf("an owner's count with the feature: %v", got)
	}
	if got := count(owner, inactiveSegment()); got.GetProfiles() != 20 {
		t.Fatalf("inactive for 36 months: %v, want the 20 who did not click", got)
	}
	// A user restricted to web sees shop as a section it cannot see, and
	// cannot name it.
	webOnly := e.client(t, auth.Principal{Account: "acme", Subject: "wendy", Kind: auth.KindUser, Role: auth.User, Sections: []string{"web"}})
	if got := count(webOnly, inactiveSegment()); segmentSections(got.GetSections()) != "shop(hidden):6 web:20" {
		t.Fatalf("a web-only user's sections: %v", segmentSections(got.GetSections()))
	}
	shopTag := &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL, Children: []*erasurev1.SegmentNode{
		{Node: &erasurev1.SegmentNode_Tag{Tag: &erasurev1.TagCondition{SectionId: "shop", Name: "internal_test"}}}}}}
	_, err := webOnly.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: shopTag}))
	if info, _ := details(t, err); connect.CodeOf(err) != connect.CodePermissionDenied || info.GetReason() != "SECTION_NOT_VISIBLE" || info.GetMetadata()["path"] != "root.children[0].tag" {
		t.Fatalf("a web-only user naming shop: %v", err)
	}

	// A bad definition names the condition; nothing is evaluated.
	bad := &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ANY, Children: []*erasurev1.SegmentNode{
		{Node: &erasurev1.SegmentNode_Tag{Tag: &erasurev1.TagCondition{Name: "x"}}},
		{Node: &erasurev1.SegmentNode_Attribute{Attribute: &erasurev1.AttributeCondition{Name: "a.b", Op: erasurev1.AttributeOp_ATTRIBUTE_OP_EXISTS}}},
	}}}
	_, err = owner.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: bad}))
	if info, fields := details(t, err); connect.CodeOf(err) != connect.CodeInvalidArgument || info.GetReason() != "SEGMENT_INVALID" ||
		info.GetMetadata()["path"] != "root.children[1].attribute" || len(fields) != 1 || fields[0] != "segment" {
		t.Fatalf("a bad definition: %v", err)
	}
	for _, seg := range []*erasurev1.Segment{nil, {Root: &erasurev1.SegmentGroup{}}, tagSegment(strings.Repeat("x", 2000))} {
		if _, err := owner.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: seg})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("definition %v: %v, want INVALID_ARGUMENT", seg, err)
		}
	}
	unknownSection := &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL, Children: []*erasurev1.SegmentNode{
		{Node: &erasurev1.SegmentNode_Tag{Tag: &erasurev1.TagCondition{SectionId: "nowhere", Name: "x"}}}}}}
	_, err = owner.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: unknownSection}))
	if err == nil || !strings.Contains(err.Error(), `unknown section "nowhere"`) {
		t.Fatalf("an unknown section: %v", err)
	}

	// Showing, through grpc-go, two at a time.
	var shown []string
	token := ""
	for range 10 {
		res, err := e.grpc.ShowSegmentProfiles(ctx, &erasurev1.ShowSegmentProfilesRequest{Segment: tagSegment("internal_test"), PageSize: 3, PageToken: token, EvaluationTime: at})
		if err != nil {
			t.Fatalf("%v\n%s", err, e.logs.String())
		}
		for _, p := range res.GetProfiles() {
			if p.GetKeyType() != erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL || p.GetEmail() != p.GetKeyValue() || p.GetCreateTime() == nil {
				t.Fatalf("shown profile %v", p)
			}
			shown = append(shown, p.GetKeyValue())
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(shown) != 10 || shown[0] != "p0@example.com" {
		t.Fatalf("shown %v", shown)
	}
	_, err = e.grpc.ShowSegmentProfiles(ctx, &erasurev1.ShowSegmentProfilesRequest{Segment: tagSegment("internal_test"), PageSize: 5000})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a page of 5000: %v", err)
	}

	// Exporting, through Connect, and deleting by the file (the article's
	// first way from a segment).
	stream, err := user.ExportSegment(ctx, connect.NewRequest(&erasurev1.ExportSegmentRequest{Segment: tagSegment("internal_test"),
		Columns: []erasurev1.ExportColumn{erasurev1.ExportColumn_EXPORT_COLUMN_EMAIL, erasurev1.ExportColumn_EXPORT_COLUMN_KEY}}))
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	var name string
	var exported int64
	for stream.Receive() {
		if m := stream.Msg(); m.GetFilename() != "" {
			name = m.GetFilename()
		}
		file.Write(stream.Msg().GetData())
		exported += stream.Msg().GetProfiles()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if exported != 10 || !strings.HasPrefix(name, "segment-export-") || !strings.HasPrefix(file.String(), "\ufeffEmail,Key type,Key\r\np0@example.com,email,p0@example.com\r\n") {
		t.Fatalf("export %q of %d profiles:\n%s", name, exported, file.String())
	}
	// The other account's look-alike is in no export of acme's.
	if strings.Count(file.String(), "p0@example.com") != 2 {
		t.Fatalf("export:\n%s", file.String())
	}

	// Deleting straight from the segment: owners and admins only.
	_, err = user.PreviewSegmentDeletion(ctx, connect.NewRequest(&erasurev1.PreviewSegmentDeletionRequest{Segment: tagSegment("internal_test")}))
	if info, _ := details(t, err); connect.CodeOf(err) != connect.CodePermissionDenied || info.GetReason() != "PERMISSION_MISSING" {
		t.Fatalf("a user's preview: %v", err)
	}
	pre, err := owner.PreviewSegmentDeletion(ctx, connect.NewRequest(&erasurev1.PreviewSegmentDeletionRequest{Segment: tagSegment("internal_test"), EvaluationTime: at}))
	if err != nil {
		t.Fatal(err)
	}
	p := pre.Msg
	if p.GetProfiles() != 10 || p.GetSnapshotId() == "" || p.GetExpireTime().AsTime().Before(time.Now().Add(29*time.Minute)) || segmentSections(p.GetSections()) != "shop:10 web:10" {
		t.Fatalf("preview %v", p)
	}
	_, err = e.grpc.ExecuteSegmentDeletion(ctx, &erasurev1.ExecuteSegmentDeletionRequest{SnapshotId: p.GetSnapshotId(), ExpectedProfiles: 9})
	if err == nil {
		// A stream's error arrives with its first message.
		var s erasurev1.ErasureService_ExecuteSegmentDeletionClient
		s, err = e.grpc.ExecuteSegmentDeletion(ctx, &erasurev1.ExecuteSegmentDeletionRequest{SnapshotId: p.GetSnapshotId(), ExpectedProfiles: 9})
		if err == nil {
			_, err = s.Recv()
		}
	}
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "not the 9 confirmed") {
		t.Fatalf("execute with a wrong count: %v", err)
	}
	exec, err := e.grpc.ExecuteSegmentDeletion(ctx, &erasurev1.ExecuteSegmentDeletionRequest{SnapshotId: p.GetSnapshotId(), ExpectedProfiles: 10})
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for {
		m, err := exec.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = m.GetJob()
	}
	c := last.GetCounts()
	if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || last.GetKind() != erasurev1.JobKind_JOB_KIND_SEGMENT || c.GetDeleted() != 10 ||
		last.GetSnapshotId() != p.GetSnapshotId() || last.GetColumn() != "profile id" {
		t.Fatalf("segment deletion job %v", last)
	}
	if e.exists(t, "acme", identifier.Email, "p0@example.com") || !e.exists(t, "other", identifier.Email, "p0@example.com") || !e.exists(t, "acme", identifier.Email, "p1@example.com") {
		t.Fatal("the segment deletion deleted the wrong profiles")
	}
	// The history and report show it like any other job.
	rep, err := owner.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{JobId: last.GetJobId()}))
	if err != nil || len(rep.Msg.GetOutcomes()) != 1 || rep.Msg.GetOutcomes()[0].GetOutcome() != erasurev1.Outcome_OUTCOME_DELETED || rep.Msg.GetOutcomes()[0].GetCount() != 10 {
		t.Fatalf("report %v, %v", rep, err)
	}
	_, err = owner.CountSegment(ctx, connect.NewRequest(&erasurev1.CountSegmentRequest{Segment: tagSegment("internal_test"), EvaluationTime: timestamppb.New(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("an evaluation time in 2200: %v", err)
	}
}

// segmentSections writes section counts as "id:n", hidden ones marked.
func segmentSections(list []*erasurev1.SegmentSectionCount) string {
	var parts []string
	for _, s := range list {
		id := s.GetSectionId()
		if !s.GetVisible() {
			id += "(hidden)"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", id, s.GetProfiles()))
	}
	return strings.Join(parts, " ")
}
