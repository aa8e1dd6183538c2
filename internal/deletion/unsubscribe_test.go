package deletion_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

// The platform writes the profiles an unsubscribe is changing, all through
// the job: it records events, counts visits and flips a consent the job
// does not select. Every one of its writes must survive, and every
// selected consent end opted out.
//
// It runs against MongoDB only (MONGODB_URI): the embedded engine applies
// an update as a read and then a write of the whole document, so two
// writers of one document lose each other's updates whatever they send —
// two raw-driver writers doing $inc on one document lose about 45% of them
// there (go test -run '^$' -bench EngineLostUpdates -benchtime 1x
// ./storage). TestUnsubscribeKeepsPlatformWrites shows on the engine what
// it can: writes between the job's steps; the storage tests show a write
// between the opt-out's read and its update.
func TestUnsubscribeLosesNoConcurrentWrite(t *testing.T) {
	t.Parallel()
	if os.Getenv("MONGODB_URI") == "" {
		t.Skip("needs MongoDB (MONGODB_URI): the embedded engine loses concurrent updates of one document by itself")
	}
	ctx := context.Background()
	// The job's updates of profiles, counted: more than one per batch means
	// some were retried after the platform changed a profile in between.
	var updates atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "update" && strings.Contains(e.Command.String(), `"profiles"`) {
			updates.Add(1)
		}
	}}
	svc, store := newMonitoredService(t, deletion.Config{BatchSize: 6}, mon)
	const n = 60
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf("p%02d@example.com", i))
	}
	seedConsenting(t, store, values)
	profiles := storagetest.Database(t).Collection("profiles")

	// The platform's writers: until the job ends, each visits its profiles
	// in turn; acknowledged writes are counted per profile.
	const writers = 4
	visits := make([]atomic.Int64, n)
	smsStatus := make([]string, n)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for round := 0; ; round++ {
				for i := w; i < n; i += writers {
					select {
					case <-done:
						return
					default:
					}
					status := []string{profile.OptOut, profile.OptIn}[round%2]
					_, err := profiles.UpdateOne(ctx, bson.D{{"account_id", "acme"}, {"key.value", values[i]}}, bson.D{
						{"$inc", bson.D{{"visits", 1}}},
						{"$push", bson.D{{"sections.0.events", bson.D{{"type", "visit"}, {"round", round}}}}},
						// The selected e-mail consent is refreshed (its date only):
						// an opt-out that read it before must miss and retry.
						{"$set", bson.D{{"sections.0.consents.1.status", status}, {"sections.0.consents.0.at", time.Now()}}},
					})
					if err != nil {
						t.Error(err)
						return
					}
					visits[i].Add(1)
					smsStatus[i] = status
				}
			}
		})
	}
	j, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, values, deletion.Spec{Type: identifier.Email},
		deletion.Task{Action: job.Unsubscribe, Unsubscribe: profile.ConsentFilter{Channel: "email"}})
	if err != nil {
		t.Fatal(err)
	}
	var last job.View
	if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, j.ID, func(v job.View) error { last = v; return nil }); err != nil {
		t.Fatal(err)
	}
	close(done)
	wg.Wait()
	if last.Job.State != job.Succeeded || last.Job.Counts.Unsubscribed != n {
		t.Fatalf("job %v %+v, want all %d unsubscribed", last.Job.State, last.Job.Counts, n)
	}
	var lost []string
	for i := range n {
		doc := readConsenting(t, profiles, values[i])
		if doc.Visits != visits[i].Load() || int64(len(doc.Sections[0].Events)) != visits[i].Load() {
			lost = append(lost, fmt.Sprintf("%s: %d visits and %d events stored, %d written", values[i], doc.Visits, len(doc.Sections[0].Events), visits[i].Load()))
		}
		if got := doc.Sections[0].Consents[1].Status; smsStatus[i] != "" && got != smsStatus[i] {
			lost = append(lost, fmt.Sprintf("%s: sms consent %s, last written %s", values[i], got, smsStatus[i]))
		}
		for _, sec := range doc.Sections {
			for _, c := range sec.Consents {
				if c.Channel == "email" && c.Status != profile.OptOut {
					lost = append(lost, fmt.Sprintf("%s: email/%s still %s", values[i], c.Topic, c.Status))
				}
			}
			if len(sec.ConsentHistory) != 1 {
				lost = append(lost, fmt.Sprintf("%s: %d history entries in a section, want 1", values[i], len(sec.ConsentHistory)))
			}
		}
	}
	var total int64
	for i := range n {
		total += visits[i].Load()
	}
	t.Logf("the platform wrote %d times during the job; the job sent %d profile updates for %d batches", total, updates.Load(), (n+5)/6)
	if total < n {
		t.Fatalf("the platform wrote only %d times during the job: the test exercised little", total)
	}
	for _, l := range lost {
		t.Error(l)
	}
}

// platformWrites changes profiles as the platform would: an event, a visit
// counted, a consent the job does not select opted out, a selected consent
// opted in again (a newer date) and a new selected consent added.
func platformWrites(ctx context.Context, profiles *mongo.Collection, round int, values []string) error {
	for _, v := range values {
		later := time.Date(2025, 6, 1, 0, 0, round, 0, time.UTC)
		_, err := profiles.UpdateOne(ctx, bson.D{{"account_id", "acme"}, {"key.value", v}}, bson.D{
			{"$inc", bson.D{{"visits", 1}}},
			{"$push", bson.D{
				{"sections.0.events", bson.D{{"type", "visit"}, {"round", round}}},
				{"sections.1.consents", bson.D{{"channel", "email"}, {"topic", fmt.Sprintf("welcome%d", round)}, {"status", profile.OptIn}, {"at", later}}},
			}},
			{"$set", bson.D{
				{"sections.0.consents.1.status", profile.OptOut},
				{"sections.0.consents.0.status", profile.OptIn},
				{"sections.0.consents.0.at", later},
			}},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// The platform changes every profile of each batch after the batch has
// read them and stored its outcomes, before it opts them out: the opt-out
// works from the profiles as they are then, keeps every platform write,
// opts out the consents it decided on even when the platform gave one again
// meanwhile, and leaves alone a consent the platform added after the
// decision (a new sign-up is not the job's to undo).
func TestUnsubscribeKeepsPlatformWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	profiles := storagetest.Database(t).Collection("profiles")
	const n = 20
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf("p%02d@example.com", i))
	}
	var mu sync.Mutex
	rounds := 0
	var batches [][]string
	svc, store := newService(t, deletion.Config{BatchSize: 6}, func(s *deletion.Service) {
		deletion.SetFault(s, func(point string) error {
			if point != deletion.FaultAfterOutcomes {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			// The batch's rows are the next six values.
			b := values[min(len(batches)*6, n):min(len(batches)*6+6, n)]
			batches = append(batches, b)
			rounds++
			return platformWrites(ctx, profiles, rounds, b)
		})
	})
	seedConsenting(t, store, values)
	j, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, values, deletion.Spec{Type: identifier.Email},
		deletion.Task{Action: job.Unsubscribe, Unsubscribe: profile.ConsentFilter{Channel: "email"}})
	if err != nil {
		t.Fatal(err)
	}
	var last job.View
	if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, j.ID, func(v job.View) error { last = v; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.Job.State != job.Succeeded || last.Job.Counts.Unsubscribed != n || rounds != (n+5)/6 {
		t.Fatalf("job %v %+v (%s) after %d platform rounds, want all %d unsubscribed in %d", last.Job.State, last.Job.Counts, last.Job.Error, rounds, n, (n+5)/6)
	}
	for _, v := range values {
		doc := readConsenting(t, profiles, v)
		if doc.Visits != 1 || len(doc.Sections[0].Events) != 1 || doc.Sections[0].Consents[1].Status != profile.OptOut {
			t.Errorf("%s: the platform's writes were lost: %d visits, %d events, sms %s", v, doc.Visits, len(doc.Sections[0].Events), doc.Sections[0].Consents[1].Status)
		}
		var states []string
		for _, sec := range doc.Sections {
			for _, c := range sec.Consents {
				if c.Channel == "email" {
					states = append(states, c.Topic+" "+c.Status)
					want := profile.OptOut
					if strings.HasPrefix(c.Topic, "welcome") {
						want = profile.OptIn
					}
					if c.Status != want {
						t.Errorf("%s: email/%s is %s, want %s", v, c.Topic, c.Status, want)
					}
				}
			}
		}
		if len(states) != 3 || len(doc.Sections[0].ConsentHistory) != 1 || len(doc.Sections[1].ConsentHistory) != 1 {
			t.Errorf("%s: consents %v, history %d and %d entries; want 3, 1 and 1", v, states, len(doc.Sections[0].ConsentHistory), len(doc.Sections[1].ConsentHistory))
		}
		// The news consent was given again (a later date) before the
		// opt-out; the history says so.
		if prev := doc.Sections[0].ConsentHistory[0]["previous_at"]; prev == nil || prev.(bson.DateTime).Time().Before(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: history %v, want the opt-out from the consent as given again", v, doc.Sections[0].ConsentHistory)
		}
	}
}

// A job whose action this version does not know fails, saying so, and
// changes nothing: it is never run as a deletion.
func TestUnknownActionFailsTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, store := newService(t, deletion.Config{})
	if err := store.InsertProfiles(ctx, []profile.Profile{{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: "ann@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	db := storagetest.Database(t)
	id := bson.NewObjectID()
	if _, err := db.Collection("deletion_job_items").InsertOne(ctx, bson.D{{"_id", id}, {"account_id", "acme"}, {"at", time.Now()}, {"items", bson.A{"ann@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("deletion_jobs").InsertOne(ctx, bson.D{{"_id", id}, {"account_id", "acme"}, {"kind", "unsubscribe_list"},
		{"action", "frobnicate"}, {"state", "queued"}, {"identifier_type", "email"}, {"column", "list"},
		{"counts", bson.D{{"total_rows", 1}}}, {"attempt", 0}, {"created_at", time.Now()}, {"updated_at", time.Now()}}); err != nil {
		t.Fatal(err)
	}
	var last job.View
	if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, id.Hex(), func(v job.View) error { last = v; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.Job.State != job.Failed || !strings.Contains(last.Job.Error, "not one this version of erasured runs") {
		t.Fatalf("job %v %q, want failed naming the unknown action", last.Job.State, last.Job.Error)
	}
	if n, _ := store.CountProfiles(ctx, "acme"); n != 1 {
		t.Fatal("a job of an unknown action deleted a profile")
	}
}

// seedConsenting stores acme profiles keyed by the e-mail addresses, each
// opted in to e-mail news and SMS news in s1 and to e-mail offers in s2.
func seedConsenting(t *testing.T, store *storage.Store, emails []string) {
	t.Helper()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var ps []profile.Profile
	for _, v := range emails {
		ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: v}, Sections: []profile.Section{
			{SectionID: "s1", Consents: []profile.Consent{
				{Channel: "email", Topic: "news", Status: profile.OptIn, At: at},
				{Channel: "sms", Topic: "news", Status: profile.OptIn, At: at},
			}},
			{SectionID: "s2", Consents: []profile.Consent{{Channel: "email", Topic: "offers", Status: profile.OptIn, At: at}}},
		}})
	}
	if err := store.InsertProfiles(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
}

// consentingDoc is what the concurrency tests read back of a profile: the
// platform's writes (visits, events) and the opt-out's (consents, history).
type consentingDoc struct {
	Visits   int64 `bson:"visits"`
	Sections []struct {
		Consents []struct {
			Channel, Topic, Status string
		} `bson:"consents"`
		Events         []bson.M `bson:"events"`
		ConsentHistory []bson.M `bson:"consent_history"`
	} `bson:"sections"`
}

// readConsenting reads acme's profile with the e-mail key value.
func readConsenting(t *testing.T, profiles *mongo.Collection, value string) consentingDoc {
	t.Helper()
	var doc consentingDoc
	if err := profiles.FindOne(context.Background(), bson.D{{"account_id", "acme"}, {"key.value", value}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
