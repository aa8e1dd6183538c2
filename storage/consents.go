package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/profile"
)

// consentHistoryDoc is one entry of a section's consent_history: a change
// of one consent, with the state it replaced. The consent itself holds the
// current state; the history keeps every earlier one.
type consentHistoryDoc struct {
	Channel        string     `bson:"channel"`
	Topic          string     `bson:"topic"`
	Status         string     `bson:"status"`
	At             time.Time  `bson:"at"`
	PreviousStatus string     `bson:"previous_status"`
	PreviousAt     *time.Time `bson:"previous_at,omitempty"`
	// Source says who changed it: "erasure", with the job.
	Source string `bson:"source"`
	JobID  string `bson:"job_id"`
}

// consentsDoc is what OptOutConsents reads of a profile: where each consent
// is, and its state.
type consentsDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Sections []struct {
		SectionID string `bson:"section_id"`
		Consents  []struct {
			Channel string     `bson:"channel"`
			Topic   string     `bson:"topic"`
			Status  string     `bson:"status"`
			At      *time.Time `bson:"at"`
		} `bson:"consents"`
	} `bson:"sections"`
}

// optOutTries bounds how often OptOutConsents reads a profile again after
// a concurrent change made its update miss.
const optOutTries = 8

// OptOutConsents opts out, in each of the account's profiles targets, every
// opted-in consent the filter selects: its status becomes opt_out and its
// date at, a consent_history entry in its section keeps the state it
// replaced, and the profile's updated_at becomes at. Nothing else of the
// profile changes, and a consent already opted out is left as it is, so
// opting out again is harmless.
//
// No concurrent change is lost: each profile gets one update that names
// only the paths it changes and carries in its filter the state it read of
// every consent it changes (position, section, channel, topic, status,
// date). When the platform changed one of them in between, the update
// matches nothing and the profile is read again and retried, up to
// optOutTries times; a change to anything else of the profile (a new
// event, another consent) is untouched by it. On MongoDB a single-document
// update is atomic, so the filter and the change apply together.
func (s *Store) OptOutConsents(ctx context.Context, accountID string, targets []profile.Match, f profile.ConsentFilter, at time.Time, jobID string) error {
	at = at.UTC().Truncate(time.Millisecond)
	pending := targets
	for try := 0; len(pending) > 0; try++ {
		if try == optOutTries {
			return fmt.Errorf("opt out consents: %d profiles kept changing under %d tries", len(pending), try)
		}
		cur, err := s.profiles.Find(ctx, targetFilter(accountID, pending), options.Find().
			SetProjection(bson.D{{"sections.section_id", 1}, {"sections.consents", 1}}).
			SetBatchSize(int32(min(len(pending)+1, 100_000))))
		if err != nil {
			return fmt.Errorf("opt out consents: %w", err)
		}
		var docs []consentsDoc
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("opt out consents: %w", err)
		}
		if s.beforeOptOutWrite != nil {
			s.beforeOptOutWrite()
		}
		var models []mongo.WriteModel
		changed := make(map[string]bool)
		for i := range docs {
			if m := optOutModel(accountID, &docs[i], f, at, jobID); m != nil {
				models = append(models, m)
				changed[docs[i].ID.Hex()] = true
			}
		}
		if len(models) == 0 {
			return nil
		}
		res, err := s.profiles.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return fmt.Errorf("opt out consents: %w", err)
		}
		if res.MatchedCount == int64(len(models)) {
			return nil
		}
		// Some profiles changed since they were read. Read those that had
		// something to change again: the ones whose update went through
		// have nothing left to change, unless the platform opted them in
		// again, which the job then opts out as asked.
		var next []profile.Match
		for _, t := range pending {
			if changed[t.ID] {
				next = append(next, t)
			}
		}
		pending = next
	}
	return nil
}

// optOutModel is the conditional update that opts out d's selected opted-in
// consents, or nil when it has none.
func optOutModel(accountID string, d *consentsDoc, f profile.ConsentFilter, at time.Time, jobID string) mongo.WriteModel {
	filter := bson.D{{"_id", d.ID}, {"account_id", accountID}}
	set := bson.D{}
	push := bson.D{}
	for i, sec := range d.Sections {
		var history bson.A
		for j, c := range sec.Consents {
			ref := profile.ConsentRef{SectionID: sec.SectionID, Channel: c.Channel, Topic: c.Topic}
			if c.Status != profile.OptIn || !f.Selects(ref) {
				continue
			}
			path := fmt.Sprintf("sections.%d.consents.%d.", i, j)
			if len(history) == 0 {
				filter = append(filter, bson.E{fmt.Sprintf("sections.%d.section_id", i), sec.SectionID})
			}
			var readAt any = nil // matches a missing or null date
			if c.At != nil {
				readAt = *c.At
			}
			filter = append(filter,
				bson.E{path + "channel", c.Channel},
				bson.E{path + "topic", c.Topic},
				bson.E{path + "status", profile.OptIn},
				bson.E{path + "at", readAt})
			set = append(set, bson.E{path + "status", profile.OptOut}, bson.E{path + "at", at})
			history = append(history, consentHistoryDoc{
				Channel: c.Channel, Topic: c.Topic, Status: profile.OptOut, At: at,
				PreviousStatus: c.Status, PreviousAt: c.At, Source: "erasure", JobID: jobID,
			})
		}
		if len(history) > 0 {
			push = append(push, bson.E{fmt.Sprintf("sections.%d.consent_history", i), bson.D{{"$each", history}}})
		}
	}
	if len(set) == 0 {
		return nil
	}
	set = append(set, bson.E{"updated_at", at})
	return mongo.NewUpdateOneModel().SetFilter(filter).SetUpdate(bson.D{{"$set", set}, {"$push", push}})
}
