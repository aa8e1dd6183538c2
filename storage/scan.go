package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/profile"
)

// ScanProfiles calls fn with the account's profiles after the one with id
// after ("" for the first), in id order, whole, until fn returns false or
// the profiles end: what a segment is evaluated on. It reads them through
// one cursor in batches of 500, so a scan costs one query however many
// profiles it reads; on MongoDB the {account_id, _id} index serves it.
// fn's profile is its own.
//
// Values read from attributes and event data are plain Go values: dates as
// time.Time, numbers as int32, int64 or float64, documents as bson.D,
// arrays as bson.A.
func (s *Store) ScanProfiles(ctx context.Context, accountID, after string, fn func(profile.Profile) bool) error {
	filter := bson.D{{"account_id", accountID}}
	if after != "" {
		oid, err := parseID(after)
		if err != nil {
			return err
		}
		filter = append(filter, bson.E{"_id", bson.D{{"$gt", oid}}})
	}
	cur, err := s.profiles.Find(ctx, filter, options.Find().SetSort(bson.D{{"_id", 1}}).SetBatchSize(500))
	if err != nil {
		return fmt.Errorf("scan profiles: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var d scanDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("scan profiles: %w", err)
		}
		if !fn(d.profile()) {
			return nil
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("scan profiles: %w", err)
	}
	return nil
}

// ProfilesByID returns the account's profiles with the given ids that
// exist, whole and read like ScanProfiles reads them, by id.
func (s *Store) ProfilesByID(ctx context.Context, accountID string, ids []string) (map[string]profile.Profile, error) {
	oids := make([]bson.ObjectID, 0, len(ids))
	for _, id := range ids {
		if oid, err := parseID(id); err == nil {
			oids = append(oids, oid)
		}
	}
	out := make(map[string]profile.Profile, len(oids))
	if len(oids) == 0 {
		return out, nil
	}
	cur, err := s.profiles.Find(ctx, bson.D{{"account_id", accountID}, {"_id", bson.D{{"$in", oids}}}})
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var d scanDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("read profiles: %w", err)
		}
		p := d.profile()
		out[p.ID] = p
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return out, nil
}

// SectionIDs returns the ids of the sections the account's profiles hold
// data in, in no particular order.
func (s *Store) SectionIDs(ctx context.Context, accountID string) ([]string, error) {
	// An aggregation rather than distinct: the embedded engine's distinct
	// refuses the maxTimeMS the driver adds when the call has a deadline.
	pipeline := bson.A{
		bson.D{{"$match", bson.D{{"account_id", accountID}}}},
		bson.D{{"$unwind", "$sections"}},
		bson.D{{"$group", bson.D{{"_id", "$sections.section_id"}}}},
	}
	cur, err := s.profiles.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("list sections: %w", err)
	}
	var docs []struct {
		ID bson.RawValue `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list sections: %w", err)
	}
	// Another writer's odd section id (not text) names no section.
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		if id, ok := d.ID.StringValueOK(); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// scanDoc is a whole profile as stored, read leniently: other services
// write profiles too, and one odd value must neither stop a segment nor be
// taken for something it is not. Each part read from sections is checked;
// a part in an unexpected form is marked in profile.Unreadable, which
// segment conditions treat as undecided.
type scanDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Key       bson.RawValue `bson:"key"`
	Email     bson.RawValue `bson:"email"`
	Phone     bson.RawValue `bson:"phone"`
	CRMID     bson.RawValue `bson:"crm_id"`
	Sections  bson.RawValue `bson:"sections"`
	CreatedAt bson.RawValue `bson:"created_at"`
	UpdatedAt bson.RawValue `bson:"updated_at"`
}

// profile is the domain's form of a scanned profile.
func (d *scanDoc) profile() profile.Profile {
	p := profile.Profile{
		ID:        d.ID.Hex(),
		AccountID: d.AccountID,
		Email:     textOf(d.Email),
		Phone:     textOf(d.Phone),
		CRMID:     textOf(d.CRMID),
		CreatedAt: dateOf(d.CreatedAt),
		UpdatedAt: dateOf(d.UpdatedAt),
	}
	if key, ok := d.Key.DocumentOK(); ok {
		p.Key = profile.Key{Type: keyTypes.value(textOf(key.Lookup("type"))), Value: textOf(key.Lookup("value"))}
	}
	if absent(d.Sections) {
		return p
	}
	list, ok := arrayOf(d.Sections)
	if !ok {
		return withUnreadableSection(p)
	}
	for _, v := range list {
		doc, ok := v.DocumentOK()
		if !ok {
			p = withUnreadableSection(p)
			continue
		}
		p.Sections = append(p.Sections, sectionOf(doc))
	}
	return p
}

var unreadableSection = profile.Section{Unreadable: profile.Unreadable{Section: true, Attributes: true, Tags: true, Consents: true, Events: true}}

func withUnreadableSection(p profile.Profile) profile.Profile {
	p.Sections = append(p.Sections, unreadableSection)
	return p
}

// sectionOf reads one section document, marking the parts it cannot read.
func sectionOf(doc bson.Raw) profile.Section {
	id, ok := doc.Lookup("section_id").StringValueOK()
	if !ok {
		return unreadableSection
	}
	s := profile.Section{SectionID: id}
	if v := doc.Lookup("attributes"); !absent(v) {
		var m map[string]any
		if attrs, ok := v.DocumentOK(); ok && bson.Unmarshal(attrs, &m) == nil {
			s.Attributes = plainMap(m)
		} else {
			s.Unreadable.Attributes = true
		}
	}
	if v := doc.Lookup("tags"); !absent(v) {
		list, ok := arrayOf(v)
		s.Unreadable.Tags = !ok
		for _, t := range list {
			if name, ok := t.StringValueOK(); ok {
				s.Tags = append(s.Tags, name)
			} else {
				s.Unreadable.Tags = true
			}
		}
	}
	s.Consents, s.Unreadable.Consents = readList(doc.Lookup("consents"), func(c bson.Raw) (profile.Consent, bool) {
		channel, ok1 := c.Lookup("channel").StringValueOK()
		topic, ok2 := optionalText(c.Lookup("topic"))
		status, ok3 := c.Lookup("status").StringValueOK()
		return profile.Consent{Channel: channel, Topic: topic, Status: status, At: dateOf(c.Lookup("at"))}, ok1 && ok2 && ok3
	})
	s.Events, s.Unreadable.Events = readList(doc.Lookup("events"), func(e bson.Raw) (profile.Event, bool) {
		typ, ok := e.Lookup("type").StringValueOK()
		at, isDate := e.Lookup("at").DateTimeOK()
		ev := profile.Event{Type: typ, At: time.UnixMilli(at).UTC()}
		if data, ok := e.Lookup("data").DocumentOK(); ok {
			var m map[string]any
			if bson.Unmarshal(data, &m) == nil {
				ev.Data = plainMap(m)
			}
		}
		return ev, ok && isDate
	})
	return s
}

// readList reads an array of documents with read, keeping the items read
// whole; unreadable reports whether the array or some item was not.
func readList[T any](v bson.RawValue, read func(bson.Raw) (T, bool)) (items []T, unreadable bool) {
	if absent(v) {
		return nil, false
	}
	list, ok := arrayOf(v)
	if !ok {
		return nil, true
	}
	for _, item := range list {
		doc, ok := item.DocumentOK()
		if !ok {
			unreadable = true
			continue
		}
		if t, ok := read(doc); ok {
			items = append(items, t)
		} else {
			unreadable = true
		}
	}
	return items, unreadable
}

// absent reports whether a looked-up value is missing or null.
func absent(v bson.RawValue) bool {
	return v.Type == 0 || v.Type == bson.TypeNull
}

// arrayOf returns the values of an array.
func arrayOf(v bson.RawValue) ([]bson.RawValue, bool) {
	a, ok := v.ArrayOK()
	if !ok {
		return nil, false
	}
	values, err := a.Values()
	return values, err == nil
}

// textOf is a stored string, or "" for anything else.
func textOf(v bson.RawValue) string {
	s, _ := v.StringValueOK()
	return s
}

// optionalText is a string that may be missing or null ("").
func optionalText(v bson.RawValue) (string, bool) {
	if absent(v) {
		return "", true
	}
	return v.StringValueOK()
}

// dateOf is a stored date, or the zero time for anything else.
func dateOf(v bson.RawValue) time.Time {
	if dt, ok := v.DateTimeOK(); ok {
		return time.UnixMilli(dt).UTC()
	}
	return time.Time{}
}

// plainMap turns the driver's types in a decoded map into plain Go values.
func plainMap(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = plain(v)
	}
	return m
}

func plain(v any) any {
	switch v := v.(type) {
	case bson.DateTime:
		return v.Time().UTC()
	case bson.Decimal128:
		// A decimal becomes the float64 nearest to it.
		x, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return nil
		}
		return x
	case bson.Timestamp:
		return time.Unix(int64(v.T), 0).UTC()
	}
	return v
}
