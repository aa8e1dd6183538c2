package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

// consentProfile has, in sections s1 and s2, e-mail consents to news and
// offers and an SMS consent to news, all opted in.
func consentProfile(account, email string) profile.Profile {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	p := profile.Profile{AccountID: account, Key: profile.Key{Type: identifier.Email, Value: email}, CreatedAt: at, UpdatedAt: at}
	for _, s := range []string{"s1", "s2"} {
		p.Sections = append(p.Sections, profile.Section{SectionID: s, Consents: []profile.Consent{
			{Channel: "email", Topic: "news", Status: profile.OptIn, At: at},
			{Channel: "email", Topic: "offers", Status: profile.OptIn, At: at},
			{Channel: "sms", Topic: "news", Status: profile.OptIn, At: at},
		}, Events: []profile.Event{{Type: "click", At: at}}})
	}
	return p
}

type storedConsent struct {
	Channel string    `bson:"channel"`
	Topic   string    `bson:"topic"`
	Status  string    `bson:"status"`
	At      time.Time `bson:"at"`
}

type storedProfile struct {
	Sections []struct {
		SectionID      string          `bson:"section_id"`
		Consents       []storedConsent `bson:"consents"`
		ConsentHistory []bson.M        `bson:"consent_history"`
		Events         []bson.M        `bson:"events"`
	} `bson:"sections"`
	Note string `bson:"note"`
}

func (p storedProfile) consents() string {
	var out []string
	for _, s := range p.Sections {
		for _, c := range s.Consents {
			out = append(out, fmt.Sprintf("%s %s/%s %s", s.SectionID, c.Channel, c.Topic, c.Status))
		}
	}
	return strings.Join(out, ", ")
}

func rawCollection(t *testing.T, name string) *mongo.Collection {
	return storagetest.Database(t).Collection(name)
}

// The platform changes a profile between OptOutConsents' read and its
// write: it re-opts-in a consent the job selects (a newer date), rewrites a
// section's consents with a new one in front (every position shifts),
// records an event and sets a field. The write must miss, the profile be read again, and in
// the end every platform change is there and every selected consent opted
// out, each recorded once in its section's history.
func TestOptOutConsentsKeepsConcurrentChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	ps := []profile.Profile{consentProfile("acme", "ann@example.com"), consentProfile("acme", "bob@example.com")}
	if err := s.InsertProfiles(ctx, ps); err != nil {
		t.Fatal(err)
	}
	profiles := rawCollection(t, "profiles")
	ann, _ := bson.ObjectIDFromHex(ps[0].ID)
	bob, _ := bson.ObjectIDFromHex(ps[1].ID)
	writes := 0
	s.BeforeOptOutWrite(func() {
		writes++
		if writes > 1 {
			return
		}
		later := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		for _, u := range []bson.D{
			{{"$set", bson.D{{"sections.0.consents.1.at", later}}}},
			// The platform rewrites the section's consents with a new one first.
			{{"$set", bson.D{{"sections.1.consents", bson.A{
				bson.D{{"channel", "email"}, {"topic", "welcome"}, {"status", "opt_in"}, {"at", later}},
				bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", ps[0].Sections[1].Consents[0].At}},
				bson.D{{"channel", "email"}, {"topic", "offers"}, {"status", "opt_in"}, {"at", ps[0].Sections[1].Consents[1].At}},
				bson.D{{"channel", "sms"}, {"topic", "news"}, {"status", "opt_in"}, {"at", ps[0].Sections[1].Consents[2].At}},
			}}}}},
			{{"$push", bson.D{{"sections.0.events", bson.D{{"type", "open"}, {"at", later}}}}}},
			{{"$set", bson.D{{"note", "written by the platform"}}}},
		} {
			if _, err := profiles.UpdateOne(ctx, bson.D{{"_id", ann}}, u); err != nil {
				t.Error(err)
			}
		}
		// bob's consent to news is given again, nothing else moves: only
		// its date tells the update that it changed.
		if _, err := profiles.UpdateOne(ctx, bson.D{{"_id", bob}}, bson.D{{"$set", bson.D{{"sections.0.consents.0.at", later}}}}); err != nil {
			t.Error(err)
		}
	})
	targets := optOuts(t, s, profile.ConsentFilter{Channel: "email"}, "ann@example.com", "bob@example.com")
	// The platform adds "welcome" after the job decided: it is not the
	// job's to opt out, unlike the re-dated "offers".
	targets[0].Consents = append(targets[0].Consents, profile.ConsentRef{SectionID: "s2", Channel: "email", Topic: "welcome"})
	targets[0].Consents = slices.DeleteFunc(targets[0].Consents, func(c profile.ConsentRef) bool { return c.Topic == "welcome" })
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := s.OptOutConsents(ctx, "acme", targets, "job1", func() time.Time { return at }); err != nil {
		t.Fatal(err)
	}
	if writes < 2 {
		t.Fatalf("OptOutConsents wrote %d times; the conflict was not retried", writes)
	}
	var got storedProfile
	if err := profiles.FindOne(ctx, bson.D{{"_id", ann}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := "s1 email/news opt_out, s1 email/offers opt_out, s1 sms/news opt_in, s2 email/welcome opt_in, s2 email/news opt_out, s2 email/offers opt_out, s2 sms/news opt_in"
	if got.consents() != want {
		t.Fatalf("consents %s\nwant     %s", got.consents(), want)
	}
	if got.Note != "written by the platform" || len(got.Sections[0].Events) != 2 {
		t.Fatalf("the platform's changes were lost: note %q, %d events", got.Note, len(got.Sections[0].Events))
	}
	for i, n := range []int{2, 2} {
		if h := got.Sections[i].ConsentHistory; len(h) != n {
			t.Errorf("section %d has %d history entries, want %d: %v", i, len(h), n, h)
		}
	}
	for _, c := range got.Sections[0].Consents {
		if c.Channel == "email" && !c.At.Equal(at) {
			t.Errorf("consent %s dated %v, want %v", c.Topic, c.At, at)
		}
	}

	// Again: nothing left to change, nothing written.
	writes = 10
	before := got
	if err := s.OptOutConsents(ctx, "acme", targets, "job2", func() time.Time { return at.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	if err := profiles.FindOne(ctx, bson.D{{"_id", ann}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.consents() != before.consents() || len(got.Sections[1].ConsentHistory) != 2 {
		t.Fatalf("a second opt-out changed the profile: %s", got.consents())
	}
	// bob's re-dated consent was opted out from its new state: the
	// history keeps the date it was given again, not the one first read.
	var b storedProfile
	if err := profiles.FindOne(ctx, bson.D{{"_id", bob}}).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(strings.Split(b.consents(), ", "), []string{"s1 email/news opt_out", "s1 email/offers opt_out", "s1 sms/news opt_in", "s2 email/news opt_out", "s2 email/offers opt_out", "s2 sms/news opt_in"}) {
		t.Fatalf("bob: %s", b.consents())
	}
	if h := b.Sections[0].ConsentHistory; len(h) != 2 || !h[0]["previous_at"].(bson.DateTime).Time().Equal(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("bob's history %v, want news opted out from its date of 2025-06-01", h)
	}
}

// optOuts returns what a job would opt out of the named profiles: their
// opted-in consents the filter selects.
func optOuts(t *testing.T, s *storage.Store, f profile.ConsentFilter, emails ...string) []storage.OptOut {
	t.Helper()
	matches, err := s.FindByKeys(context.Background(), "acme", identifier.Email, emails, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(matches, func(a, b profile.Match) int { return strings.Compare(a.Key.Value, b.Key.Value) })
	var out []storage.OptOut
	for _, m := range matches {
		o := storage.OptOut{Profile: m}
		for _, c := range m.Consents {
			if c.Status == profile.OptIn && f.Selects(c.ConsentRef) {
				o.Consents = append(o.Consents, c.ConsentRef)
			}
		}
		out = append(out, o)
	}
	return out
}

// Consents as other writers store them: a date as text or a number, no
// date, a null date, a null or missing history; each is matched as stored
// and changed once. A history that is not a list is reported, not
// rewritten, and the other profiles are changed anyway. A redo of the same
// job after the person opted in again leaves their new consent alone.
func TestOptOutConsentsAsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t, nil)
	profiles := rawCollection(t, "profiles")
	later := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	docs := []struct {
		email   string
		consent bson.D
		history any
	}{
		{"text@example.com", bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", "2025-03-01"}}, nil},
		{"number@example.com", bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", int64(1740830400000)}}, bson.A{}},
		{"nodate@example.com", bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}}, nil},
		{"nulldate@example.com", bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", nil}}, bson.Null{}},
		{"badhistory@example.com", bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", later}}, "not a list"},
	}
	for _, d := range docs {
		sec := bson.D{{"section_id", "s1"}, {"consents", bson.A{d.consent}}}
		if d.history != nil {
			sec = append(sec, bson.E{"consent_history", d.history})
		}
		if _, err := profiles.InsertOne(ctx, bson.D{{"_id", bson.NewObjectID()}, {"account_id", "acme"},
			{"key", bson.D{{"type", "email"}, {"value", d.email}}}, {"sections", bson.A{sec}}, {"updated_at", later}}); err != nil {
			t.Fatal(err)
		}
	}
	var emails []string
	for _, d := range docs {
		emails = append(emails, d.email)
	}
	targets := optOuts(t, s, profile.ConsentFilter{Channel: "email"}, emails...)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	err := s.OptOutConsents(ctx, "acme", targets, "job1", func() time.Time { return at })
	var ue *storage.UnchangeableError
	if !errors.As(err, &ue) || len(ue.Problems) != 1 || !strings.Contains(ue.Error(), "consent_history is a string, not a list") {
		t.Fatalf("err = %v, want the profile with a text history reported", err)
	}
	type stored struct {
		Key      struct{ Value string } `bson:"key"`
		Sections []struct {
			Consents []struct {
				Status string    `bson:"status"`
				At     time.Time `bson:"at"`
			} `bson:"consents"`
			ConsentHistory []struct {
				PreviousAt bson.RawValue `bson:"previous_at"`
			} `bson:"consent_history"`
		} `bson:"sections"`
		UpdatedAt time.Time `bson:"updated_at"`
	}
	check := func(wantHistory int) {
		t.Helper()
		for _, d := range docs {
			var got stored
			if d.email == "badhistory@example.com" {
				continue
			}
			if err := profiles.FindOne(ctx, bson.D{{"key.value", d.email}}).Decode(&got); err != nil {
				t.Fatal(err)
			}
			c := got.Sections[0].Consents[0]
			if c.Status != "opt_out" || !c.At.Equal(at) || len(got.Sections[0].ConsentHistory) != wantHistory || !got.UpdatedAt.Equal(at) {
				t.Errorf("%s: %+v", d.email, got)
			}
		}
	}
	check(1)
	var bad struct {
		Sections []struct {
			Consents []struct{ Status string } `bson:"consents"`
			History  string                    `bson:"consent_history"`
		} `bson:"sections"`
	}
	if err := profiles.FindOne(ctx, bson.D{{"key.value", "badhistory@example.com"}}).Decode(&bad); err != nil {
		t.Fatal(err)
	}
	if bad.Sections[0].Consents[0].Status != "opt_in" || bad.Sections[0].History != "not a list" {
		t.Fatalf("the profile with a text history was changed: %+v", bad)
	}

	// The person opts in again; the same job redone leaves that alone.
	if _, err := profiles.UpdateOne(ctx, bson.D{{"key.value", "text@example.com"}},
		bson.D{{"$set", bson.D{{"sections.0.consents.0.status", "opt_in"}}}}); err != nil {
		t.Fatal(err)
	}
	targets = slices.DeleteFunc(targets, func(o storage.OptOut) bool { return o.Profile.Key.Value == "badhistory@example.com" })
	if err := s.OptOutConsents(ctx, "acme", targets, "job1", func() time.Time { return at.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	var again stored
	if err := profiles.FindOne(ctx, bson.D{{"key.value", "text@example.com"}}).Decode(&again); err != nil {
		t.Fatal(err)
	}
	if again.Sections[0].Consents[0].Status != "opt_in" || len(again.Sections[0].ConsentHistory) != 1 {
		t.Fatalf("the redo undid a consent given since, or wrote the history twice: %+v", again)
	}
	// A later job does opt it out, and updated_at never goes back.
	if err := s.OptOutConsents(ctx, "acme", targets[:1], "job2", func() time.Time { return at.Add(-time.Hour) }); err != nil {
		t.Fatal(err)
	}
	if err := profiles.FindOne(ctx, bson.D{{"key.value", targets[0].Profile.Key.Value}}).Decode(&again); err != nil {
		t.Fatal(err)
	}
	if !again.UpdatedAt.Equal(at) {
		t.Errorf("updated_at %v after a write dated earlier, want it kept at %v", again.UpdatedAt, at)
	}
}
