package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/profile"
)

// OptOut is a profile to unsubscribe and the consents of it to opt out: the
// ones the job decided on when it matched the row.
type OptOut struct {
	Profile  profile.Match
	Consents []profile.ConsentRef
}

// UnchangeableError means some profiles hold data the opt-out cannot
// change without rewriting the platform's own data (a section's
// consent_history that is not a list). The other profiles were changed.
type UnchangeableError struct {
	// Problems maps a profile id to what is wrong with it.
	Problems map[string]string
}

func (e *UnchangeableError) Error() string {
	var parts []string
	for id, p := range e.Problems {
		parts = append(parts, "profile "+id+": "+p)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// consentHistoryDoc is one entry of a section's consent_history: a change
// of one consent, with the state it replaced. The consent itself holds the
// current state; the history keeps every earlier one.
type consentHistoryDoc struct {
	Channel        string        `bson:"channel"`
	Topic          string        `bson:"topic"`
	Status         string        `bson:"status"`
	At             time.Time     `bson:"at"`
	PreviousStatus string        `bson:"previous_status"`
	PreviousAt     bson.RawValue `bson:"previous_at,omitempty"`
	// Source says who changed it: "erasure", with the job.
	Source string `bson:"source"`
	JobID  string `bson:"job_id"`
}

// consentsDoc is what OptOutConsents reads of a profile, each value as
// stored (whatever its BSON type), so that the update's filter can carry it
// exactly.
type consentsDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Sections []struct {
		SectionID bson.RawValue `bson:"section_id"`
		Consents  []struct {
			Channel bson.RawValue `bson:"channel"`
			Topic   bson.RawValue `bson:"topic"`
			Status  bson.RawValue `bson:"status"`
			At      bson.RawValue `bson:"at"`
		} `bson:"consents"`
		History bson.RawValue `bson:"consent_history"`
	} `bson:"sections"`
}

// optOutTries bounds how often OptOutConsents reads a profile again after
// a concurrent change made its update miss.
const optOutTries = 8

// OptOutConsents opts out, in each target profile of the account, the
// consents the target names that are opted in: the consent's status
// becomes opt_out and its date the time of the write, an entry in its
// section's consent_history keeps the state it replaced (who, job, old
// status and date), and the profile's updated_at moves forward to that time
// (never back). Nothing else of the profile changes. A consent already
// opted out, or already changed by this job (a batch redone after a crash
// finds the job's entry in the history), is left as it is, so a redo
// writes nothing twice and never undoes a consent given again since.
//
// No concurrent change is lost: each profile gets one update that names
// only the paths it changes and carries in its filter the state it read of
// every consent it changes (section id at that position, channel, topic,
// status and date, each as stored). When the platform changed one of them
// in between, the update matches nothing and the profile is read again and
// retried, up to optOutTries times; a change to anything else of the
// profile (a new event, another consent) is untouched by it. On MongoDB a
// single-document update is atomic, so the filter and the change apply
// together ("update if current").
//
// Profiles whose data cannot be changed that way are skipped and reported
// in an *UnchangeableError after the others are done.
func (s *Store) OptOutConsents(ctx context.Context, accountID string, targets []OptOut, jobID string, now func() time.Time) error {
	want := make(map[string][]profile.ConsentRef, len(targets))
	pending := make([]profile.Match, 0, len(targets))
	for _, t := range targets {
		if len(t.Consents) > 0 {
			want[t.Profile.ID] = t.Consents
			pending = append(pending, t.Profile)
		}
	}
	bad := map[string]string{}
	for try := 0; len(pending) > 0; try++ {
		if try == optOutTries {
			return fmt.Errorf("opt out consents: %d profiles kept changing under %d tries", len(pending), try)
		}
		cur, err := s.profiles.Find(ctx, targetFilter(accountID, pending), options.Find().
			SetProjection(bson.D{{"sections.section_id", 1}, {"sections.consents", 1}, {"sections.consent_history", 1}}).
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
		at := now().UTC().Truncate(time.Millisecond)
		var models []mongo.WriteModel
		changed := make(map[string]bool)
		for i := range docs {
			id := docs[i].ID.Hex()
			m, err := optOutModel(accountID, &docs[i], want[id], at, jobID)
			if err != nil {
				bad[id] = err.Error()
				continue
			}
			if m != nil {
				models = append(models, m)
				changed[id] = true
			}
		}
		if len(models) == 0 {
			break
		}
		res, err := s.profiles.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return fmt.Errorf("opt out consents: %w", err)
		}
		if res.MatchedCount == int64(len(models)) {
			break
		}
		// Some profiles changed since they were read. Read again those that
		// had something to change: the ones whose update went through have
		// nothing left to change, unless the platform opted a consent in
		// again, which the job then opts out as it decided.
		var next []profile.Match
		for _, t := range pending {
			if changed[t.ID] {
				next = append(next, t)
			}
		}
		pending = next
	}
	if len(bad) > 0 {
		return &UnchangeableError{Problems: bad}
	}
	return nil
}

// optOutModel is the conditional update that opts out the consents of d
// that refs names and that are opted in, or nil when there are none.
func optOutModel(accountID string, d *consentsDoc, refs []profile.ConsentRef, at time.Time, jobID string) (mongo.WriteModel, error) {
	filter := bson.D{{"_id", d.ID}, {"account_id", accountID}}
	set := bson.D{}
	push := bson.D{}
	for i, sec := range d.Sections {
		sectionID, _ := sec.SectionID.StringValueOK()
		var history bson.A
		for j, c := range sec.Consents {
			channel, _ := c.Channel.StringValueOK()
			topic, _ := c.Topic.StringValueOK()
			status, _ := c.Status.StringValueOK()
			ref := profile.ConsentRef{SectionID: sectionID, Channel: channel, Topic: topic}
			if status != profile.OptIn || !slices.Contains(refs, ref) || changedByJob(sec.History, ref, jobID) {
				continue
			}
			path := fmt.Sprintf("sections.%d.consents.%d.", i, j)
			if len(history) == 0 {
				filter = append(filter, bson.E{fmt.Sprintf("sections.%d.section_id", i), asStored(sec.SectionID)})
			}
			filter = append(filter,
				bson.E{path + "channel", asStored(c.Channel)},
				bson.E{path + "topic", asStored(c.Topic)},
				bson.E{path + "status", asStored(c.Status)},
				bson.E{path + "at", asStored(c.At)})
			set = append(set, bson.E{path + "status", profile.OptOut}, bson.E{path + "at", at})
			history = append(history, consentHistoryDoc{
				Channel: channel, Topic: topic, Status: profile.OptOut, At: at,
				PreviousStatus: status, PreviousAt: c.At, Source: "erasure", JobID: jobID,
			})
		}
		if len(history) == 0 {
			continue
		}
		path := fmt.Sprintf("sections.%d.consent_history", i)
		switch sec.History.Type {
		case 0, bson.TypeArray:
			push = append(push, bson.E{path, bson.D{{"$each", history}}})
		case bson.TypeNull:
			filter = append(filter, bson.E{path, asStored(sec.History)})
			set = append(set, bson.E{path, history})
		default:
			return nil, fmt.Errorf("sections.%d.consent_history is a %s, not a list, so the change cannot be recorded; make it a list (or remove it) and run the job again", i, sec.History.Type)
		}
	}
	if len(set) == 0 && len(push) == 0 {
		return nil, nil
	}
	update := bson.D{{"$max", bson.D{{"updated_at", at}}}}
	if len(set) > 0 {
		update = append(update, bson.E{"$set", set})
	}
	if len(push) > 0 {
		update = append(update, bson.E{"$push", push})
	}
	return mongo.NewUpdateOneModel().SetFilter(filter).SetUpdate(update), nil
}

// asStored is a filter condition that matches exactly the value read: the
// value itself, of whatever type, or for a field that was missing or null,
// a condition that tells those apart (an equality with null would also
// match a missing field, and on MongoDB a numeric path segment also names
// a field of every array element, which never exists).
func asStored(v bson.RawValue) any {
	switch v.Type {
	case 0:
		return bson.D{{"$exists", false}}
	case bson.TypeNull:
		return bson.D{{"$type", "null"}}
	}
	return v
}

// changedByJob reports whether a section's history already records the
// job's change of the consent.
func changedByJob(history bson.RawValue, ref profile.ConsentRef, jobID string) bool {
	entries, ok := history.ArrayOK()
	if !ok {
		return false
	}
	values, err := entries.Values()
	if err != nil {
		return false
	}
	for _, e := range values {
		doc, ok := e.DocumentOK()
		if !ok {
			continue
		}
		job, _ := doc.Lookup("job_id").StringValueOK()
		channel, _ := doc.Lookup("channel").StringValueOK()
		topic, _ := doc.Lookup("topic").StringValueOK()
		if job == jobID && channel == ref.Channel && topic == ref.Topic {
			return true
		}
	}
	return false
}
