package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestUploadChunksReassemble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)

	data := make([]byte, 700*1024+13)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	u, err := s.CreateUpload(ctx, "acme", "list.csv", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id := u.ID

	// Odd sizes cross GridFS chunk boundaries; every piece is sent twice,
	// the second time as a retry overlapping what is stored.
	var off int64
	for _, size := range []int{1, 1000, 300 * 1024, 7, 200 * 1024, 100} {
		piece := data[off : off+int64(size)]
		if _, err := s.AppendUpload(ctx, "acme", id, off, piece, false, 1<<20); err != nil {
			t.Fatalf("append at %d: %v", off, err)
		}
		if _, err := s.AppendUpload(ctx, "acme", id, off, piece, false, 1<<20); err != nil {
			t.Fatalf("retry at %d: %v", off, err)
		}
		off += int64(size)
	}
	// A gap is refused with the offset to resume from.
	_, err = s.AppendUpload(ctx, "acme", id, off+5, data[off:], false, 1<<20)
	var oe *storage.OffsetError
	if !errors.As(err, &oe) || oe.Received != off {
		t.Fatalf("gap: got %v, want OffsetError{%d}", err, off)
	}
	// Another account cannot see or extend it.
	if _, err := s.AppendUpload(ctx, "other", id, off, data[off:], true, 1<<20); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("other account: got %v, want ErrNotFound", err)
	}
	// Not yet complete: not readable.
	if _, _, err := s.OpenUpload(ctx, "acme", id); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("open incomplete: got %v, want ErrConflict", err)
	}
	u, err = s.AppendUpload(ctx, "acme", id, off, data[off:], true, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Complete || u.Length != int64(len(data)) {
		t.Fatalf("upload = complete %v length %d, want true %d", u.Complete, u.Length, len(data))
	}
	r, _, err := s.OpenUpload(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}

	if err := s.DeleteUpload(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUpload(ctx, "acme", id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after delete: got %v, want ErrNotFound", err)
	}
}

// An upload begun before chunk ids were derived from it and pending bytes
// were kept in its document (its chunks have random ids, its last one is
// partly filled) can be continued, retried and read after an upgrade.
func TestUploadStoredTheOldWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	data := randomBytes(800*1024 + 5)
	u, err := s.CreateUpload(ctx, "acme", "list.csv", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id := u.ID
	var off int64
	// Each piece is appended to an upload stored the old way, twice.
	for _, size := range []int64{300 * 1024, 100 * 1024, 210 * 1024} {
		for range 2 {
			if _, err := s.AppendUpload(ctx, "acme", id, off, data[off:off+size], false, 1<<20); err != nil {
				t.Fatalf("append at %d: %v", off, err)
			}
		}
		off += size
		if err := s.MakeLegacyUpload(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendUpload(ctx, "acme", id, off, data[off:], true, 1<<20); err != nil {
		t.Fatal(err)
	}
	checkUpload(t, s, id, data)
}

// A crash after an append stored its chunks but before it advanced the
// upload is repaired by the client's retry of the same bytes.
func TestUploadRetryAfterLostUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	data := randomBytes(700 * 1024)
	u, err := s.CreateUpload(ctx, "acme", "list.csv", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id := u.ID
	var off int64
	for _, size := range []int64{100 * 1024, 400 * 1024, 200 * 1024} {
		last := off+size == int64(len(data))
		restore, err := s.SaveUpload(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(ctx, "acme", id, off, data[off:off+size], last, 1<<20); err != nil {
			t.Fatalf("append at %d: %v", off, err)
		}
		if err := restore(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(ctx, "acme", id, off, data[off:off+size], last, 1<<20); err != nil {
			t.Fatalf("retry at %d: %v", off, err)
		}
		off += size
	}
	checkUpload(t, s, id, data)
}

// A complete upload that lost a chunk in the store cannot be read as if it
// were shorter.
func TestUploadMissingChunk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	for _, n := range []int64{1, 2} { // a middle chunk, the last one
		u, err := s.CreateUpload(ctx, "acme", "list.csv", time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		id := u.ID
		if _, err := s.AppendUpload(ctx, "acme", id, 0, randomBytes(700*1024), true, 1<<20); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChunk(ctx, id, n); err != nil {
			t.Fatal(err)
		}
		r, _, err := s.OpenUpload(ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err == nil {
			t.Errorf("chunk %d missing: read %d bytes without an error", n, len(got))
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 4))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// checkUpload fails unless the complete upload reads back as want.
func checkUpload(t *testing.T, s *storage.Store, id string, want []byte) {
	t.Helper()
	r, u, err := s.OpenUpload(context.Background(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if u.Length != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (length %d), want the %d uploaded", len(got), u.Length, len(want))
	}
}

func TestUploadSizeLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	u, err := s.CreateUpload(ctx, "acme", "big.csv", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "acme", u.ID, 0, make([]byte, 100), false, 150); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "acme", u.ID, 100, make([]byte, 51), false, 150); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestProfilesAreAccountScoped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	mk := func(account string, keyType identifier.Type, value string, sections ...string) profile.Profile {
		p := profile.Profile{AccountID: account, Key: profile.Key{Type: keyType, Value: value}}
		for _, sec := range sections {
			p.Sections = append(p.Sections, profile.Section{SectionID: sec, Tags: []string{"t"},
				Events: []profile.Event{{Type: "open", At: time.Now()}}})
		}
		return p
	}
	profiles := []profile.Profile{
		mk("acme", identifier.Email, "a@x.com", "s1", "s2"),
		mk("acme", identifier.CRMID, "a@x.com", "s1"),
		mk("other", identifier.Email, "a@x.com", "s1"),
	}
	profiles[1].Email = "a@x.com"
	if err := s.InsertProfiles(ctx, profiles); err != nil {
		t.Fatal(err)
	}
	// Seeding again is a no-op.
	if err := s.InsertProfiles(ctx, []profile.Profile{mk("acme", identifier.Email, "a@x.com")}); err != nil {
		t.Fatal(err)
	}
	m, err := s.FindByKeys(ctx, "acme", identifier.Email, []string{"a@x.com", "b@x.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m[0].ID != profiles[0].ID || !slices.Equal(m[0].Sections, []string{"s1", "s2"}) {
		t.Fatalf("FindByKeys = %+v, want the acme e-mail profile with sections s1, s2", m)
	}
	// With hints: the match and the profile keyed by CRM ID holding the
	// address as an attribute, in one query; never the other account's.
	rel, err := s.FindWithRelated(ctx, "acme", identifier.Email, []string{"a@x.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rel {
		got = append(got, r.ID+" "+r.Key.Type.String())
	}
	slices.Sort(got)
	want := []string{profiles[0].ID + " email", profiles[1].ID + " crm_id"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("FindWithRelated = %v, want %v", got, want)
	}
	target := func(p profile.Profile) profile.Match {
		return profile.Match{ID: p.ID, Key: p.Key}
	}
	// Deleting acme's profiles in the other account deletes nothing.
	n, err := s.DeleteProfiles(ctx, "other", []profile.Match{target(profiles[0]), target(profiles[1])})
	if err != nil || n != 0 {
		t.Fatalf("cross-account delete = %d, %v; want 0, nil", n, err)
	}
	// The key narrows the filter: a target whose key is not the profile's
	// deletes nothing.
	wrongKey := target(profiles[0])
	wrongKey.Key.Value = "b@x.com"
	if n, err := s.DeleteProfiles(ctx, "acme", []profile.Match{wrongKey}); err != nil || n != 0 {
		t.Fatalf("delete with another key = %d, %v; want 0, nil", n, err)
	}
	if left, err := s.RemainingProfiles(ctx, "acme", []profile.Match{target(profiles[0]), {ID: "not-an-id"}}); err != nil || len(left) != 1 || left[0].ID != profiles[0].ID {
		t.Fatalf("RemainingProfiles before the delete = %v, %v", left, err)
	}
	n, err = s.DeleteProfiles(ctx, "acme", []profile.Match{target(profiles[0]), {ID: "not-an-id"}})
	if err != nil || n != 1 {
		t.Fatalf("delete = %d, %v; want 1, nil", n, err)
	}
	if left, err := s.RemainingProfiles(ctx, "acme", []profile.Match{target(profiles[0])}); err != nil || len(left) != 0 {
		t.Fatalf("RemainingProfiles after the delete = %v, %v", left, err)
	}
	for _, c := range []struct {
		account string
		want    int64
	}{{"acme", 1}, {"other", 1}} {
		got, err := s.CountProfiles(ctx, c.account)
		if err != nil || got != c.want {
			t.Fatalf("CountProfiles(%s) = %d, %v; want %d", c.account, got, err, c.want)
		}
	}
}

func TestOutcomesInRowOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	var batch []job.RowOutcome
	for _, row := range []int64{10, 2, 1000, 3} {
		batch = append(batch, job.RowOutcome{Row: row, Outcome: job.NotFound})
	}
	if err := s.InsertOutcomes(ctx, "acme", "job1", batch); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertOutcomes(ctx, "acme", "job2", []job.RowOutcome{{Row: 1, Outcome: job.Deleted}}); err != nil {
		t.Fatal(err)
	}
	// A retried batch is harmless, and so is a part of it stored again
	// (two workers that both stored a batch, the second with a smaller
	// batch size).
	if err := s.InsertOutcomes(ctx, "acme", "job1", batch); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertOutcomes(ctx, "acme", "job1", []job.RowOutcome{{Row: 2, Outcome: job.NotFound}, {Row: 3, Outcome: job.NotFound}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListOutcomes(ctx, "acme", "job1", 2, 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []int64
	for _, o := range got {
		rows = append(rows, o.Row)
	}
	if !slices.Equal(rows, []int64{3, 10, 1000}) {
		t.Fatalf("rows after 2 = %v, want [3 10 1000]", rows)
	}
	if got, _ := s.ListOutcomes(ctx, "other", "job1", 0, 0, 10, nil); len(got) != 0 {
		t.Fatalf("other account sees %d outcomes", len(got))
	}
}

// Jobs start oldest first, but one account's jobs wait while it has as many
// running as allowed, and other accounts' jobs go ahead of them.
func TestClaimJobOrderAndPerAccountBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	var ids []string
	for _, account := range []string{"acme", "acme", "beta"} {
		j := &job.Job{AccountID: account, Kind: job.FromList, Action: job.Delete, State: job.Queued, IdentifierType: identifier.Email}
		if err := s.CreateJob(ctx, j, []string{"x@example.com"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	claim := func() string {
		j, err := s.ClaimJob(ctx, "w", time.Minute, 1)
		if errors.Is(err, storage.ErrNotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	if got := claim(); got != ids[0] {
		t.Fatalf("first claim %s, want the oldest job %s", got, ids[0])
	}
	if got := claim(); got != ids[2] {
		t.Fatalf("second claim %s, want beta's job %s ahead of acme's second", got, ids[2])
	}
	if got := claim(); got != "none" {
		t.Fatalf("third claim %s, want none while acme has a job running", got)
	}
	first, err := s.GetJob(ctx, "acme", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishJob(ctx, first, job.Succeeded, "", time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := claim(); got != ids[1] {
		t.Fatalf("claim after acme's job ended %s, want %s", got, ids[1])
	}
}

// Jobs stored by earlier versions read back as they were meant: a file job
// whose header was left to detection ("auto") decides again, and a job
// without an identifier type is a profile job's.
func TestStoredJobsOfEarlierVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	db := storagetest.Database(t)
	id := bson.NewObjectID()
	_, err := db.Collection("deletion_jobs").InsertOne(ctx, bson.D{
		{"_id", id}, {"account_id", "acme"}, {"kind", "file"}, {"state", "queued"}, {"identifier_type", "email"},
		{"upload_id", "u"}, {"header_mode", "auto"}, {"counts", bson.D{}}, {"attempt", 0}, {"created_at", time.Now()}, {"updated_at", time.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.GetJob(ctx, "acme", id.Hex())
	if err != nil {
		t.Fatal(err)
	}
	if j.File.Header != job.HeaderAuto || j.Kind != job.FromFile || j.State != job.Queued || j.IdentifierType != identifier.Email {
		t.Fatalf("job read as %+v", j)
	}
	// Written back by a checkpoint, it keeps "auto".
	if err := s.CreateJob(ctx, &job.Job{AccountID: "acme", Kind: job.FromFile, Action: job.Delete, State: job.Queued, File: job.File{UploadID: "v", Header: job.HeaderPresent}}, nil); err != nil {
		t.Fatal(err)
	}
	var raw bson.M
	if err := db.Collection("deletion_jobs").FindOne(ctx, bson.D{{"upload_id", "v"}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if raw["header_mode"] != "present" {
		t.Fatalf("header_mode stored as %v, want present", raw["header_mode"])
	}
}

// A profile without sections is stored with null sections, as before.
func TestProfileWithoutSections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	if err := s.InsertProfiles(ctx, []profile.Profile{{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: "a@x.com"}}}); err != nil {
		t.Fatal(err)
	}
	raw, err := storagetest.Database(t).Collection("profiles").FindOne(ctx, bson.D{}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if v := raw.Lookup("sections"); v.Type != bson.TypeNull {
		t.Fatalf("sections stored as %v, want null", v)
	}
}

// An unsubscribe job is stored with a kind that versions before actions do
// not know (they fail such a job instead of running it as a deletion), and
// a job is read as a deletion only when it says so or predates actions.
func TestJobActionsAsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	jobs := rawCollection(t, "deletion_jobs")
	u := &job.Job{AccountID: "acme", Kind: job.FromList, Action: job.Unsubscribe, State: job.Queued,
		Unsubscribe: profile.ConsentFilter{Channel: "email"}}
	if err := s.CreateJob(ctx, u, []string{"a@example.com"}); err != nil {
		t.Fatal(err)
	}
	oid, _ := bson.ObjectIDFromHex(u.ID)
	var raw struct{ Kind, Action string }
	if err := jobs.FindOne(ctx, bson.D{{"_id", oid}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if raw.Kind != "unsubscribe_list" || raw.Action != "unsubscribe" {
		t.Fatalf("stored as kind %q action %q", raw.Kind, raw.Action)
	}
	if err := s.CreateJob(ctx, &job.Job{AccountID: "acme", Kind: job.FromList, State: job.Queued}, nil); err == nil {
		t.Fatal("a job without an action was stored")
	}
	for _, c := range []struct {
		kind, action string
		want         job.Action
	}{
		{"list", "", job.Delete},
		{"list", "delete", job.Delete},
		{"unsubscribe_list", "unsubscribe", job.Unsubscribe},
		{"list", "unsubscribe", 0},
		{"unsubscribe_list", "", 0},
		{"unsubscribe_list", "delete", 0},
		{"list", "frobnicate", 0},
	} {
		id := bson.NewObjectID()
		doc := bson.D{{"_id", id}, {"account_id", "acme"}, {"kind", c.kind}, {"state", "queued"}, {"counts", bson.D{}}, {"attempt", 0}}
		if c.action != "" {
			doc = append(doc, bson.E{"action", c.action})
		}
		if _, err := jobs.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
		j, err := s.GetJob(ctx, "acme", id.Hex())
		if err != nil {
			t.Fatal(err)
		}
		if j.Action != c.want || j.Kind != job.FromList {
			t.Errorf("kind %q action %q read as %v %v, want %v", c.kind, c.action, j.Kind, j.Action, c.want)
		}
	}
}

// A report summary's samples: the first rows of one outcome of one job
// after a row, in row order, whatever lies around them.
func TestListOutcomesOfOneOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	var batch []job.RowOutcome
	for row := int64(2); row < 40; row++ {
		o := job.NotFound
		if row%3 == 0 {
			o = job.Invalid
		}
		batch = append(batch, job.RowOutcome{Row: row, Outcome: o})
	}
	// Stored out of order, and next to jobs whose ids share a prefix.
	slices.Reverse(batch)
	for _, id := range []string{"job1", "job10", "job"} {
		if err := s.InsertOutcomes(ctx, "acme", id, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertOutcomes(ctx, "other", "job2", []job.RowOutcome{{Row: 3, Outcome: job.Invalid}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after int64
		want  []int64
	}{{0, []int64{3, 6, 9, 12}}, {7, []int64{9, 12, 15, 18}}, {36, []int64{39}}} {
		got, err := s.ListOutcomes(ctx, "acme", "job1", c.after, 0, 4, []job.Outcome{job.Invalid})
		if err != nil {
			t.Fatal(err)
		}
		var rows []int64
		for _, o := range got {
			if o.Outcome != job.Invalid {
				t.Fatalf("row %d is %v", o.Row, o.Outcome)
			}
			rows = append(rows, o.Row)
		}
		if !slices.Equal(rows, c.want) {
			t.Fatalf("first invalid rows after %d = %v, want %v", c.after, rows, c.want)
		}
	}
	if got, _ := s.ListOutcomes(ctx, "acme", "job1", 0, 0, 4, []job.Outcome{job.Deleted}); len(got) != 0 {
		t.Fatalf("%d deleted rows in a job without any", len(got))
	}
	if got, _ := s.ListOutcomes(ctx, "acme", "job2", 0, 0, 4, []job.Outcome{job.Invalid}); len(got) != 0 {
		t.Fatalf("acme sees %d rows of other's job", len(got))
	}
}

// A segment reads whole profiles, a page at a time, with the values as
// plain Go values, and a profile with odd values does not stop the scan.
func TestScanProfiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var docs []any
	for i := range 5 {
		docs = append(docs, bson.D{{"_id", bson.NewObjectID()}, {"account_id", "acme"}, {"key", bson.D{{"type", "email"}, {"value", fmt.Sprintf("p%d@example.com", i)}}},
			{"sections", bson.A{bson.D{{"section_id", "s1"}, {"tags", bson.A{"vip"}},
				{"attributes", bson.D{{"born", at}, {"score", int32(7)}, {"ratio", 0.5}}},
				{"consents", bson.A{bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", "2025-03-01"}}}},
				{"events", bson.A{bson.D{{"type", "email_click"}, {"at", at}}}}}}},
			{"created_at", at}})
	}
	docs = append(docs, bson.D{{"_id", bson.NewObjectID()}, {"account_id", "other"}, {"key", bson.D{{"type", "email"}, {"value", "x@example.com"}}}})
	if _, err := storagetest.Database(t).Collection("profiles").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	var all []profile.Profile
	collect := func(p profile.Profile) bool { all = append(all, p); return true }
	if err := s.ScanProfiles(ctx, "acme", "", collect); err != nil {
		t.Fatal(err)
	}
	// From the second profile on, stopping after two.
	var two []profile.Profile
	if err := s.ScanProfiles(ctx, "acme", all[0].ID, func(p profile.Profile) bool { two = append(two, p); return len(two) < 2 }); err != nil {
		t.Fatal(err)
	}
	if len(two) != 2 || two[0].ID != all[1].ID || two[1].ID != all[2].ID {
		t.Fatalf("scan after the first, stopping at two: %v", two)
	}
	if len(all) != 5 {
		t.Fatalf("%d profiles scanned, want acme's 5", len(all))
	}
	p := all[0]
	a := p.Sections[0].Attributes
	if a["born"] != at || a["score"] != int32(7) || a["ratio"] != 0.5 {
		t.Fatalf("attributes %#v", a)
	}
	if !p.CreatedAt.Equal(at) || !p.Sections[0].Events[0].At.Equal(at) || !p.Sections[0].Consents[0].At.IsZero() || p.Key.Type != identifier.Email {
		t.Fatalf("profile %+v", p)
	}
	if p.Sections[0].Unreadable.Any() {
		t.Fatalf("a well-formed section is marked unreadable: %+v", p.Sections[0].Unreadable)
	}
}

// TestScanOddProfiles checks that values other writers stored in forms
// erasure does not expect neither stop a scan nor read as something they are
// not: the parts holding them are marked unreadable, and the rest is read.
func TestScanOddProfiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	odd := bson.D{{"_id", bson.NewObjectID()}, {"account_id", "acme"}, {"key", bson.D{{"type", "email"}, {"value", "odd@example.com"}}},
		{"email", 42},
		{"sections", bson.A{
			// Tags hold a number; one event's date is text, one event's type a number.
			bson.D{{"section_id", "s1"}, {"tags", bson.A{"vip", 7}},
				{"attributes", bson.D{{"score", int32(7)}}},
				{"consents", bson.A{bson.D{{"channel", "email"}, {"topic", "news"}, {"status", true}}, bson.D{{"channel", "sms"}, {"status", "opt_in"}}}},
				{"events", bson.A{bson.D{{"type", "email_click"}, {"at", "2025-03-01"}}, bson.D{{"type", 5}, {"at", at}}, bson.D{{"type", "email_open"}, {"at", at}}}}},
			// Attributes and tags of the wrong shape.
			bson.D{{"section_id", "s2"}, {"attributes", "none"}, {"tags", "vip"}, {"consents", bson.A{"opt_in"}}, {"events", bson.D{{"type", "x"}}}},
			// No section id, and a section that is not a document.
			bson.D{{"tags", bson.A{"vip"}}},
			"s4",
		}},
		{"created_at", "2025-01-01"}}
	notArray := bson.D{{"_id", bson.NewObjectID()}, {"account_id", "acme"}, {"key", "odd"}, {"sections", bson.D{{"section_id", "s1"}}}}
	if _, err := storagetest.Database(t).Collection("profiles").InsertMany(ctx, []any{odd, notArray}); err != nil {
		t.Fatal(err)
	}
	var all []profile.Profile
	if err := s.ScanProfiles(ctx, "acme", "", func(p profile.Profile) bool { all = append(all, p); return true }); err != nil {
		t.Fatalf("a scan over odd profiles failed: %v", err)
	}
	if len(all) != 2 {
		t.Fatalf("%d profiles scanned, want 2", len(all))
	}
	p := all[0]
	if p.Email != "" || !p.CreatedAt.IsZero() || p.Key.Type != identifier.Email || len(p.Sections) != 4 {
		t.Fatalf("odd profile read as %+v", p)
	}
	s1, s2 := p.Sections[0], p.Sections[1]
	want1 := profile.Unreadable{Tags: true, Consents: true, Events: true}
	if s1.Unreadable != want1 || !slices.Equal(s1.Tags, []string{"vip"}) || s1.Attributes["score"] != int32(7) ||
		len(s1.Consents) != 1 || s1.Consents[0].Channel != "sms" || len(s1.Events) != 1 || s1.Events[0].Type != "email_open" {
		t.Fatalf("section s1 read as %+v", s1)
	}
	want2 := profile.Unreadable{Attributes: true, Tags: true, Consents: true, Events: true}
	if s2.Unreadable != want2 || s2.SectionID != "s2" || s2.Attributes != nil || s2.Tags != nil {
		t.Fatalf("section s2 read as %+v", s2)
	}
	for _, sec := range p.Sections[2:] {
		if !sec.Unreadable.Section || !sec.Unreadable.Tags || sec.Tags != nil {
			t.Fatalf("a section without a readable id read as %+v", sec)
		}
	}
	q := all[1]
	if q.Key.Type != 0 || len(q.Sections) != 1 || !q.Sections[0].Unreadable.Section {
		t.Fatalf("a profile whose sections are not a list read as %+v", q)
	}
	// The sections an account has, whatever else its profiles hold; and
	// with a deadline (the driver then sends maxTimeMS).
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, c := range []struct {
		account, section string
		want             bool
	}{{"acme", "s1", true}, {"acme", "s2", true}, {"acme", "s3", false}, {"other", "s1", false}} {
		if got, err := s.SectionExists(dctx, c.account, c.section); err != nil || got != c.want {
			t.Errorf("SectionExists(%s, %s) = %v, %v; want %v", c.account, c.section, got, err, c.want)
		}
	}
}

// A job's outcomes are stored a page per thousand rows; a page that loses
// some rows (a stalled job's rows past its checkpoint) is stored again
// without them, or deleted when none is left; rows stored one document
// each, before pages, are read with them.
func TestOutcomePages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	rowsOf := func(jobID string, only ...job.Outcome) []int64 {
		t.Helper()
		got, err := s.ListOutcomes(ctx, "acme", jobID, 0, 0, 10_000, only)
		if err != nil {
			t.Fatal(err)
		}
		var rows []int64
		for i, o := range got {
			if len(only) == 0 && i > 0 && o.Row != got[i-1].Row+1 {
				t.Fatalf("%s: row %d after %d", jobID, o.Row, got[i-1].Row)
			}
			rows = append(rows, o.Row)
		}
		return rows
	}
	span := func(rows []int64) string {
		if len(rows) == 0 {
			return "none"
		}
		return fmt.Sprintf("%d rows, %d to %d", len(rows), rows[0], rows[len(rows)-1])
	}
	var batch []job.RowOutcome
	for row := int64(1); row <= 2500; row++ {
		batch = append(batch, job.RowOutcome{Row: row, Value: fmt.Sprintf("v%d", row), Outcome: job.Deleted, ProfileID: "p", Sections: []string{"s1"}, KeyHash: []byte{1, 2}})
	}
	if err := s.InsertOutcomes(ctx, "acme", "job1", batch); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountPages(ctx, "job1"); err != nil || n != 3 {
		t.Fatalf("2,500 rows in %d documents (%v), want 3 pages", n, err)
	}
	got, err := s.ListOutcomes(ctx, "acme", "job1", 1499, 2500, 1, nil)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], batch[1499]) {
		t.Fatalf("row 1500 read back as %+v (%v), stored %+v", got, err, batch[1499])
	}
	var drop []int64
	for row := int64(1800); row <= 2500; row++ {
		drop = append(drop, row)
	}
	for range 2 { // a retry finds it done
		if err := s.DeleteOutcomeRows(ctx, "acme", "job1", drop); err != nil {
			t.Fatal(err)
		}
	}
	if got := span(rowsOf("job1")); got != "1799 rows, 1 to 1799" {
		t.Fatalf("after deleting rows 1800 to 2500: %s", got)
	}
	if n, err := s.LastOutcomeRow(ctx, "acme", "job1"); err != nil || n != 1799 {
		t.Fatalf("last outcome row %d (%v), want 1799", n, err)
	}
	if err := s.InsertOutcomes(ctx, "acme", "job1", batch[1799:]); err != nil {
		t.Fatal(err)
	}
	if got := span(rowsOf("job1")); got != "2500 rows, 1 to 2500" {
		t.Fatalf("rows 1800 to 2500 stored again: %s", got)
	}

	for row := int64(1); row <= 3; row++ {
		if err := s.InsertLegacyOutcome(ctx, "acme", "job2", job.RowOutcome{Row: row, Outcome: job.NotFound}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertOutcomes(ctx, "acme", "job2", []job.RowOutcome{{Row: 4, Outcome: job.Invalid}, {Row: 5, Outcome: job.NotFound}}); err != nil {
		t.Fatal(err)
	}
	if got := span(rowsOf("job2")); got != "5 rows, 1 to 5" {
		t.Fatalf("rows stored before pages, then a page: %s", got)
	}
	if got := span(rowsOf("job2", job.NotFound)); got != "4 rows, 1 to 5" {
		t.Fatalf("not found rows: %s", got)
	}
	if err := s.DeleteOutcomeRows(ctx, "acme", "job2", []int64{3, 4}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.LastOutcomeRow(ctx, "acme", "job2"); err != nil || n != 5 {
		t.Fatalf("last outcome row %d (%v), want 5", n, err)
	}
	if got, _ := s.ListOutcomes(ctx, "acme", "job2", 0, 0, 10, nil); len(got) != 3 || got[1].Row != 2 || got[2].Row != 5 {
		t.Fatalf("after deleting rows 3 and 4: %+v", got)
	}
}

// Erasure records are stored a page per thousand rows of a batch; a person
// is found by either hash among pages and records stored one per row
// before pages; a row recorded twice (a batch redone with other rows)
// counts once, with its first record.
func TestErasureRecordPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	hash := func(kind string, n int64) []byte { h := sha256.Sum256(fmt.Appendf(nil, "%s%d", kind, n)); return h[:] }
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	records := func(jobID string, from, to int64, at time.Time) []job.Erasure {
		var out []job.Erasure
		for row := from; row <= to; row++ {
			e := job.Erasure{JobID: jobID, JobKind: job.FromFile, Row: row, At: at, KeyHash: hash("key", row), ProfileHash: hash("profile", row)}
			if row%100 == 0 {
				e.KeyHash = nil // a profile deleted by its id
			}
			out = append(out, e)
		}
		return out
	}
	if err := s.RecordErasures(ctx, "acme", records("job1", 1, 2500, at)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountRecordPages(ctx, "job1"); err != nil || n != 3 {
		t.Fatalf("2,500 records in %d documents (%v), want 3 pages", n, err)
	}
	// Redone with other batch bounds, later: rows 2001 to 3000, of which
	// 2001 to 2500 again.
	if err := s.RecordErasures(ctx, "acme", records("job1", 2001, 3000, at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountErasures(ctx, "acme", "job1"); err != nil || n != 3000 {
		t.Fatalf("%d rows recorded (%v), want 3000", n, err)
	}
	if err := s.InsertLegacyErasure(ctx, "acme", job.Erasure{JobID: "job0", JobKind: job.FromList, Row: 7, At: at.Add(-time.Hour), KeyHash: hash("key", 2401), ProfileHash: hash("profile", 2401)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindErasures(ctx, "acme", hash("key", 2401), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].JobID != "job0" || got[0].Row != 7 || got[1].JobID != "job1" || got[1].Row != 2401 || !got[1].At.Equal(at) {
		t.Fatalf("records of key 2401: %+v; want job0 row 7, then job1 row 2401 at %v", got, at)
	}
	if got, err := s.FindErasures(ctx, "acme", hash("profile", 1501), true); err != nil || len(got) != 1 || got[0].Row != 1501 || !bytes.Equal(got[0].KeyHash, hash("key", 1501)) {
		t.Fatalf("records of profile 1501: %+v, %v", got, err)
	}
	if got, err := s.FindErasures(ctx, "acme", hash("profile", 1501), false); err != nil || len(got) != 0 {
		t.Fatalf("a profile hash found as a key hash: %+v, %v", got, err)
	}
	if got, err := s.FindErasures(ctx, "other", hash("key", 2401), false); err != nil || len(got) != 0 {
		t.Fatalf("another account finds %d records (%v)", len(got), err)
	}
	last, err := s.LastErasures(ctx, "acme", [][]byte{hash("key", 2401), hash("key", 2701), hash("key", 2600), hash("key", 9999)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last[string(hash("key", 2401))].JobID != "job1" || last[string(hash("key", 2701))].Row != 2701 {
		t.Fatalf("last erasures: %+v", last)
	}
}

// Reading an ended job's outcomes with its last row reads its pages a
// window of rows per query, each query bounded on both sides: the embedded
// engine sorts in memory all that a query matches, and an open-ended query
// on a 200,000-row job sorted the whole job for every page. The rows are
// the same as the open-ended query's, gaps, filters and pages that end past
// a window included.
func TestListOutcomesInWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	var spans []int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "find" || !strings.Contains(e.Command.String(), `"deletion_job_rows"`) {
			return
		}
		id := e.Command.Lookup("filter", "_id")
		gt, _ := id.Document().Lookup("$gt").StringValueOK()
		lte, bounded := id.Document().Lookup("$lte").StringValueOK()
		span := int64(-1) // open-ended
		if bounded && !strings.HasSuffix(lte, ":999999999999") {
			from, _ := strconv.ParseInt(gt[strings.LastIndexByte(gt, ':')+1:], 10, 64)
			to, _ := strconv.ParseInt(lte[strings.LastIndexByte(lte, ':')+1:], 10, 64)
			span = to - from
		}
		mu.Lock()
		spans = append(spans, span)
		mu.Unlock()
	}}
	s := storagetest.New(t, mon)
	const last = 4000
	var batch []job.RowOutcome
	for row := int64(2); row <= last; row++ {
		if row%7 == 0 {
			continue // a gap: blank lines are no rows
		}
		o := job.NotFound
		if row%5 == 0 {
			o = job.Invalid
		}
		batch = append(batch, job.RowOutcome{Row: row, Outcome: o})
		// Batches of 700 rows: pages of 700 and of 1,000 rows, many of
		// them across a window's end.
		if len(batch) == 700 || row == last {
			if err := s.InsertOutcomes(ctx, "acme", "job1", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, c := range []struct {
		after int64
		limit int
		only  []job.Outcome
	}{{0, 10, nil}, {13, 10, nil}, {995, 10, nil}, {3985, 10, nil}, {0, 3000, nil}, {0, 4, []job.Outcome{job.Invalid}}, {1100, 300, []job.Outcome{job.Invalid}}} {
		want, err := s.ListOutcomes(ctx, "acme", "job1", c.after, 0, c.limit, c.only)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		spans = nil
		mu.Unlock()
		got, err := s.ListOutcomes(ctx, "acme", "job1", c.after, last, c.limit, c.only)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.limit || !slices.EqualFunc(got, want, func(a, b job.RowOutcome) bool { return a.Row == b.Row && a.Outcome == b.Outcome }) {
			t.Errorf("after %d, %d, %v: windows give %d rows, the open query %d, want %d", c.after, c.limit, c.only, len(got), len(want), c.limit)
		}
		if len(got) > 0 && got[0].Row <= c.after {
			t.Errorf("after %d: first row %d", c.after, got[0].Row)
		}
		window := max(int64(c.limit)*map[bool]int64{true: 16, false: 1}[len(c.only) > 0], 1000)
		mu.Lock()
		for _, span := range spans {
			if span < 0 || span > window {
				t.Errorf("after %d, %d, %v: a query spans %d rows, want at most %d", c.after, c.limit, c.only, span, window)
			}
		}
		mu.Unlock()
	}
}

// BenchmarkListOutcomesPage reads the first page (1,000 rows) of a
// 200,000-row job's outcomes, with the job's last row (windows) and
// without it (one open query, as before session 5), and reports the bytes
// allocated per page: on the embedded engine, which runs in this process,
// that includes its in-memory sort of all a query matches; and the peak of
// the heap in use above what it was before.
func BenchmarkListOutcomesPage(b *testing.B) {
	ctx := context.Background()
	s := storagetest.New(b, nil)
	const rows = 200_000
	batch := make([]job.RowOutcome, 0, 10_000)
	for row := int64(2); row <= rows+1; row++ {
		batch = append(batch, job.RowOutcome{Row: row, Value: fmt.Sprintf("person%06d@example.com", row), Normalized: fmt.Sprintf("person%06d@example.com", row), Outcome: job.NotFound})
		if len(batch) == cap(batch) {
			if err := s.InsertOutcomes(ctx, "acme", "job1", batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, c := range []struct {
		name    string
		through int64
	}{{"windows", rows + 1}, {"open", 0}} {
		b.Run(c.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			// The peak of the heap in use while pages are read, sampled.
			var peak atomic.Uint64
			done := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var m runtime.MemStats
				for {
					select {
					case <-done:
						return
					case <-time.After(5 * time.Millisecond):
					}
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
				}
			}()
			for b.Loop() {
				page, err := s.ListOutcomes(ctx, "acme", "job1", 150_000, c.through, 1000, nil)
				if err != nil || len(page) != 1000 {
					b.Fatalf("%d rows, %v", len(page), err)
				}
			}
			close(done)
			<-sampled
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/page")
			b.ReportMetric(float64(peak.Load()-min(peak.Load(), before.HeapInuse))/(1<<20), "MiB-peak-heap")
		})
	}
}
