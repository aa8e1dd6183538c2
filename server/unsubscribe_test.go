package server_test

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.mongodb.org/mongo-driver/v2/bson"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// consented returns a profile with e-mail consents to "news" and "offers"
// and an SMS consent to "news" in each section, all opted in, an event, a
// tag and an attribute.
func consented(account, email string, sections ...string) profile.Profile {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	p := profile.Profile{AccountID: account, Key: profile.Key{Type: identifier.Email, Value: email}, Email: email, CreatedAt: at, UpdatedAt: at}
	for _, s := range sections {
		p.Sections = append(p.Sections, profile.Section{
			SectionID:  s,
			Attributes: map[string]any{"first_name": "Ann"},
			Tags:       []string{"vip"},
			Consents: []profile.Consent{
				{Channel: "email", Topic: "news", Status: profile.OptIn, At: at},
				{Channel: "email", Topic: "offers", Status: profile.OptIn, At: at},
				{Channel: "sms", Topic: "news", Status: profile.OptIn, At: at},
			},
			Events: []profile.Event{{Type: "click", At: at}},
		})
	}
	return p
}

// rawProfile returns a profile's stored document.
func rawProfile(t *testing.T, account, email string) bson.M {
	t.Helper()
	raw, err := rawDatabase(t).Collection("profiles").FindOne(context.Background(),
		bson.D{{"account_id", account}, {"key.type", "email"}, {"key.value", email}}).Raw()
	if err != nil {
		t.Fatalf("profile %s of %s: %v", email, account, err)
	}
	dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(raw)))
	dec.DefaultDocumentM()
	var doc bson.M
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// consentStates lists a stored profile's consents as "section channel/topic status".
func consentStates(doc bson.M) []string {
	var out []string
	for _, s := range doc["sections"].(bson.A) {
		sec := s.(bson.M)
		for _, c := range sec["consents"].(bson.A) {
			c := c.(bson.M)
			out = append(out, sec["section_id"].(string)+" "+c["channel"].(string)+"/"+c["topic"].(string)+" "+c["status"].(string))
		}
	}
	return out
}

// sameBesidesConsents reports whether two stored profiles are the same less
// what an unsubscribe may change.
func sameBesidesConsents(a, b bson.M) bool {
	return reflect.DeepEqual(withoutConsents(a), withoutConsents(b))
}

// withoutConsents is a stored profile less what an unsubscribe may change.
func withoutConsents(doc bson.M) bson.M {
	c := bson.M{}
	for k, v := range doc {
		c[k] = v
	}
	delete(c, "updated_at")
	var secs bson.A
	for _, s := range doc["sections"].(bson.A) {
		sec := bson.M{}
		for k, v := range s.(bson.M) {
			if k != "consents" && k != "consent_history" {
				sec[k] = v
			}
		}
		secs = append(secs, sec)
	}
	c["sections"] = secs
	return c
}

func emailOptOut() *erasurev1.UnsubscribeSpec { return &erasurev1.UnsubscribeSpec{Channel: "email"} }

// collect reads a job's stream to its end and returns the last snapshot.
func collect[R any, P interface {
	*R
	GetJob() *erasurev1.Job
}](t *testing.T, s *connect.ServerStreamForClient[R], err error) *erasurev1.Job {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for s.Receive() {
		last = P(s.Msg()).GetJob()
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return last
}

// Unsubscribing by a file: the wizard's steps, every outcome, the profile
// kept with only its selected consents opted out and the change in its
// history; running it again changes nothing.
func TestUnsubscribeByFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	bob := consented("acme", "bob@example.com", "s1")
	for i := range bob.Sections[0].Consents {
		if bob.Sections[0].Consents[i].Channel == "email" {
			bob.Sections[0].Consents[i].Status = profile.OptOut
		}
	}
	crm := newProfile("acme", identifier.CRMID, "CRM-7", "s1")
	crm.Email = "cid@example.com"
	e.seed(t, consented("acme", "ann@example.com", "s1", "s2"), bob, crm, consented("other", "ann@example.com", "s1"))
	annBefore, otherBefore := rawProfile(t, "acme", "ann@example.com"), rawProfile(t, "other", "ann@example.com")
	ctx := context.Background()

	file := "Email\nann@example.com\nbob@example.com\ncid@example.com\nnot an address\nANN@example.com\n"
	source := func(id string) *erasurev1.FileSource {
		return &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}
	}
	upload := e.uploadChunks(t, "acme", "unsubscribe.csv", []byte(file), 7)
	preview, err := e.connect.PreviewUnsubscribe(ctx, connect.NewRequest(&erasurev1.PreviewUnsubscribeRequest{
		Source: source(upload), Spec: emailSpec(), Unsubscribe: emailOptOut()}))
	if err != nil {
		t.Fatal(err)
	}
	want := &erasurev1.Counts{TotalRows: 5, Rows: 5, Valid: 3, Invalid: 1, Duplicate: 1, Matched: 2, NotFound: 1, Unsubscribed: 1, AlreadyUnsubscribed: 1}
	if got := preview.Msg.GetCounts(); !countsEqual(got, want) || got.GetUnsubscribed() != 1 || got.GetAlreadyUnsubscribed() != 1 {
		t.Fatalf("preview counts %v, want %v", got, want)
	}
	if got := sectionsWithUnsubscribed(preview.Msg.GetSections()); got != "s1:2/1 s2:1/1" {
		t.Fatalf("preview sections %s, want s1:2/1 s2:1/1", got)
	}
	if rawProfile(t, "acme", "ann@example.com")["updated_at"] != annBefore["updated_at"] {
		t.Fatal("the preview changed a profile")
	}

	stream, err := e.connect.ExecuteUnsubscribe(ctx, connect.NewRequest(&erasurev1.ExecuteUnsubscribeRequest{
		Source: source(upload), Spec: emailSpec(), Unsubscribe: emailOptOut()}))
	final := collect(t, stream, err)
	if final.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || final.GetAction() != erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE ||
		final.GetUnsubscribe().GetChannel() != "email" {
		t.Fatalf("job = %v, want a succeeded unsubscribe of e-mail", final)
	}
	if got := final.GetCounts(); !countsEqual(got, want) || got.GetUnsubscribed() != 1 || got.GetAlreadyUnsubscribed() != 1 || got.GetDeleted() != 0 {
		t.Fatalf("job counts %v, want %v", got, want)
	}
	if got := sectionsWithUnsubscribed(final.GetSections()); got != "s1:2/1 s2:1/1" {
		t.Fatalf("job sections %s, want s1:2/1 s2:1/1", got)
	}
	var rows []string
	for _, o := range e.outcomes(t, "acme", final.GetJobId()) {
		r := itoa(o.GetRow()) + " " + o.GetOutcome().String()
		for _, c := range o.GetConsents() {
			r += " " + c.GetSectionId() + ":" + c.GetChannel() + "/" + c.GetTopic()
		}
		if o.GetHint() != "" {
			r += " (hint)"
		}
		rows = append(rows, r)
	}
	wantRows := []string{
		"2 OUTCOME_UNSUBSCRIBED s1:email/news s1:email/offers s2:email/news s2:email/offers",
		"3 OUTCOME_ALREADY_UNSUBSCRIBED",
		"4 OUTCOME_NOT_FOUND (hint)",
		"5 OUTCOME_INVALID",
		"6 OUTCOME_DUPLICATE",
	}
	if !slices.Equal(rows, wantRows) {
		t.Fatalf("outcomes\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}

	// The profile stays; its e-mail consents are opted out and dated now,
	// each change is in its section's history, and nothing else changed.
	ann := rawProfile(t, "acme", "ann@example.com")
	if got := strings.Join(consentStates(ann), ", "); got != "s1 email/news opt_out, s1 email/offers opt_out, s1 sms/news opt_in, s2 email/news opt_out, s2 email/offers opt_out, s2 sms/news opt_in" {
		t.Fatalf("consents after the job: %s", got)
	}
	if !sameBesidesConsents(ann, annBefore) {
		t.Fatalf("the unsubscribe changed more than consents:\n%v\nwas\n%v", withoutConsents(ann), withoutConsents(annBefore))
	}
	if ann["updated_at"] == annBefore["updated_at"] {
		t.Error("updated_at did not change")
	}
	for _, s := range ann["sections"].(bson.A) {
		sec := s.(bson.M)
		history, _ := sec["consent_history"].(bson.A)
		if len(history) != 2 {
			t.Fatalf("section %s has %d history entries, want 2 (news, offers)", sec["section_id"], len(history))
		}
		h := history[0].(bson.M)
		if h["status"] != "opt_out" || h["previous_status"] != "opt_in" || h["source"] != "erasure" || h["job_id"] != final.GetJobId() || h["previous_at"] == nil {
			t.Fatalf("history entry %v", h)
		}
	}
	if got := rawProfile(t, "other", "ann@example.com"); !sameBesidesConsents(got, otherBefore) ||
		!slices.Equal(consentStates(got), consentStates(otherBefore)) {
		t.Fatal("another account's profile changed")
	}
	if n, err := e.store.CountUnsubscriptions(ctx, "acme", final.GetJobId()); err != nil || n != 1 {
		t.Fatalf("unsubscription records %d, %v; want 1", n, err)
	}

	// The same unsubscribe again, as a list: nothing left to change.
	listStream, err := e.connect.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{
		Spec: emailSpec(), Unsubscribe: emailOptOut(), Values: []string{"ann@example.com", "bob@example.com"}}))
	again := collect(t, listStream, err)
	if c := again.GetCounts(); c.GetAlreadyUnsubscribed() != 2 || c.GetUnsubscribed() != 0 {
		t.Fatalf("second run counts %v, want 2 already unsubscribed", c)
	}
	if after := rawProfile(t, "acme", "ann@example.com"); after["updated_at"] != ann["updated_at"] || len(consentStates(after)) != 6 {
		t.Fatal("the second run changed the profile")
	}

	// One profile by id: only the SMS consent to news in s1.
	ps, err := e.store.FindByKeys(ctx, "acme", identifier.Email, []string{"ann@example.com"}, false)
	if err != nil || len(ps) != 1 {
		t.Fatal(ps, err)
	}
	res, err := e.connect.UnsubscribeProfile(ctx, connect.NewRequest(&erasurev1.UnsubscribeProfileRequest{
		ProfileId: ps[0].ID, Unsubscribe: &erasurev1.UnsubscribeSpec{Channel: "sms", Topics: []string{"news"}, Sections: []string{"s1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if j := res.Msg.GetJob(); j.GetCounts().GetUnsubscribed() != 1 || j.GetKind() != erasurev1.JobKind_JOB_KIND_PROFILE {
		t.Fatalf("profile job %v, want 1 unsubscribed", j)
	}
	if got := strings.Join(consentStates(rawProfile(t, "acme", "ann@example.com")), ", "); got != "s1 email/news opt_out, s1 email/offers opt_out, s1 sms/news opt_out, s2 email/news opt_out, s2 email/offers opt_out, s2 sms/news opt_in" {
		t.Fatalf("consents after the profile job: %s", got)
	}

	// The history and the audit trail show the action.
	jobs, err := e.connect.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Msg.GetJobs() {
		if j.GetAction() != erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE {
			t.Errorf("job %s in the history has action %s", j.GetJobId(), j.GetAction())
		}
	}
	trail, err := e.connect.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{JobId: final.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range trail.Msg.GetEvents() {
		if ev.GetJobAction() != erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE {
			t.Errorf("audit event %s has action %s", ev.GetEventId(), ev.GetJobAction())
		}
	}
	if len(trail.Msg.GetEvents()) != 2 {
		t.Errorf("%d audit events for the job, want started and finished", len(trail.Msg.GetEvents()))
	}
}

func sectionsWithUnsubscribed(list []*erasurev1.SectionCount) string {
	var parts []string
	for _, s := range list {
		parts = append(parts, s.GetSectionId()+":"+itoa(s.GetProfiles())+"/"+itoa(s.GetUnsubscribed()))
	}
	return strings.Join(parts, " ")
}

// Bad input gets a clear error and changes nothing; a section the caller
// may not see is refused by name; a caller who sees some sections
// unsubscribes only in those.
func TestUnsubscribeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	e.seed(t, consented("acme", "ann@example.com", "s1", "s2"))
	before := rawProfile(t, "acme", "ann@example.com")
	ctx := context.Background()
	list := func(c interface {
		UnsubscribeIdentifiers(context.Context, *connect.Request[erasurev1.UnsubscribeIdentifiersRequest]) (*connect.ServerStreamForClient[erasurev1.UnsubscribeIdentifiersResponse], error)
	}, u *erasurev1.UnsubscribeSpec) error {
		s, err := c.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{
			Spec: emailSpec(), Unsubscribe: u, Values: []string{"ann@example.com"}}))
		return streamErr(s, err)
	}
	wantCode(t, list(e.connect, nil), connect.CodeInvalidArgument, "unsubscribe.channel is required")
	wantCode(t, list(e.connect, &erasurev1.UnsubscribeSpec{Channel: "email", Topics: []string{" "}}), connect.CodeInvalidArgument, "unsubscribe.topics holds an empty topic")
	limited := e.client(t, auth.Principal{Account: "acme", Subject: "uma", Kind: auth.KindUser, Role: auth.User, Sections: []string{"s1"}})
	wantCode(t, list(limited, &erasurev1.UnsubscribeSpec{Channel: "email", Sections: []string{"s2"}}), connect.CodePermissionDenied, `section "s2" is not one you may see`)
	if after := rawProfile(t, "acme", "ann@example.com"); after["updated_at"] != before["updated_at"] {
		t.Fatal("a refused unsubscribe changed the profile")
	}

	// A job an owner ran in s1 and s2, read by the caller who sees only
	// s1: neither its spec nor its rows name s2.
	bob := consented("acme", "bob@example.com", "s1", "s2")
	e.seed(t, bob)
	ownerStream, err := e.connect.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{
		Spec: emailSpec(), Unsubscribe: &erasurev1.UnsubscribeSpec{Channel: "email", Sections: []string{"s1", "s2"}}, Values: []string{"bob@example.com"}}))
	ownerJob := collect(t, ownerStream, err)
	seen, err := limited.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: ownerJob.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := seen.Msg.GetJob().GetUnsubscribe().GetSections(); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("the s1 caller sees the job's sections %v", got)
	}
	rows, err := limited.ListRowOutcomes(ctx, connect.NewRequest(&erasurev1.ListRowOutcomesRequest{JobId: ownerJob.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Receive() {
		for _, r := range rows.Msg().GetRows() {
			for _, c := range r.GetConsents() {
				if c.GetSectionId() != "s1" {
					t.Errorf("the s1 caller sees a consent in %s", c.GetSectionId())
				}
			}
			if len(r.GetConsents()) != 2 {
				t.Errorf("the s1 caller sees %d consents of row %d, want s1's two", len(r.GetConsents()), r.GetRow())
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	// "Every section" for a caller who sees only s1 is s1.
	s, err := limited.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{
		Spec: emailSpec(), Unsubscribe: emailOptOut(), Values: []string{"ann@example.com"}}))
	final := collect(t, s, err)
	if final.GetCounts().GetUnsubscribed() != 1 || !slices.Equal(final.GetUnsubscribe().GetSections(), []string{"s1"}) {
		t.Fatalf("job %v, want 1 unsubscribed in s1 only", final)
	}
	if got := strings.Join(consentStates(rawProfile(t, "acme", "ann@example.com")), ", "); got != "s1 email/news opt_out, s1 email/offers opt_out, s1 sms/news opt_in, s2 email/news opt_in, s2 email/offers opt_in, s2 sms/news opt_in" {
		t.Fatalf("consents: %s", got)
	}
}
