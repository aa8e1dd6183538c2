package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
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
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(storagetest.URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(storagetest.DatabaseName(t)).Collection(name)
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
	})
	matches, err := s.FindByKeys(ctx, "acme", identifier.Email, []string{"ann@example.com", "bob@example.com"}, true)
	if err != nil {
		t.Fatal(err)
	}
	filter := profile.ConsentFilter{Channel: "email"}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := s.OptOutConsents(ctx, "acme", matches, filter, at, "job1"); err != nil {
		t.Fatal(err)
	}
	if writes < 2 {
		t.Fatalf("OptOutConsents wrote %d times; the conflict was not retried", writes)
	}
	var got storedProfile
	if err := profiles.FindOne(ctx, bson.D{{"_id", ann}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := "s1 email/news opt_out, s1 email/offers opt_out, s1 sms/news opt_in, s2 email/welcome opt_out, s2 email/news opt_out, s2 email/offers opt_out, s2 sms/news opt_in"
	if got.consents() != want {
		t.Fatalf("consents %s\nwant     %s", got.consents(), want)
	}
	if got.Note != "written by the platform" || len(got.Sections[0].Events) != 2 {
		t.Fatalf("the platform's changes were lost: note %q, %d events", got.Note, len(got.Sections[0].Events))
	}
	for i, n := range []int{2, 3} {
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
	if err := s.OptOutConsents(ctx, "acme", matches, filter, at.Add(time.Hour), "job2"); err != nil {
		t.Fatal(err)
	}
	if err := profiles.FindOne(ctx, bson.D{{"_id", ann}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.consents() != before.consents() || len(got.Sections[1].ConsentHistory) != 3 {
		t.Fatalf("a second opt-out changed the profile: %s", got.consents())
	}
	// bob had no concurrent change: opted out on the first write.
	var bob storedProfile
	bobID, _ := bson.ObjectIDFromHex(ps[1].ID)
	if err := profiles.FindOne(ctx, bson.D{{"_id", bobID}}).Decode(&bob); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(strings.Split(bob.consents(), ", "), []string{"s1 email/news opt_out", "s1 email/offers opt_out", "s1 sms/news opt_in", "s2 email/news opt_out", "s2 email/offers opt_out", "s2 sms/news opt_in"}) {
		t.Fatalf("bob: %s", bob.consents())
	}
}
