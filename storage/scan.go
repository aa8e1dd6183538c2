package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/erasure-dev/erasure/internal/profile"
)

// ScanProfiles calls fn with the account's profiles after the one with id
// after ("" for the first), in id order, whole, until fn returns false or
// the profiles end: what a segment is evaluated on. It reads them through
// one cursor in batches of 500, so a scan costs one query however many
// profiles it reads; on MongoDB the {account_id, _id} index serves it.
// fn's profile is its own.
//
// Attribute values are plain Go values (see plainValue); events are read
// without their data, which no segment condition looks at.
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

// SectionExists reports whether some profile of the account holds data in
// the section. On MongoDB the {account_id, sections.section_id} index
// answers it with one index probe.
func (s *Store) SectionExists(ctx context.Context, accountID, section string) (bool, error) {
	err := s.profiles.FindOne(ctx, bson.D{{"account_id", accountID}, {"sections.section_id", section}},
		options.FindOne().SetProjection(bson.D{{"_id", 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find section: %w", err)
	}
	return true, nil
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
	ok := eachValue(d.Sections, func(v bson.RawValue) {
		if doc, ok := v.DocumentOK(); ok {
			p.Sections = append(p.Sections, sectionOf(doc))
		} else {
			p.Sections = append(p.Sections, unreadableSection)
		}
	})
	if !ok {
		p.Sections = append(p.Sections, unreadableSection)
	}
	return p
}

var unreadableSection = profile.Section{Unreadable: profile.Unreadable{Section: true, Attributes: true, Tags: true, Consents: true, Events: true}}

// sectionOf reads one section document, marking the parts it cannot read.
func sectionOf(doc bson.Raw) profile.Section {
	id, ok := doc.Lookup("section_id").StringValueOK()
	if !ok {
		return unreadableSection
	}
	s := profile.Section{SectionID: id}
	if v := doc.Lookup("attributes"); !absent(v) {
		attrs, ok := v.DocumentOK()
		elems, err := attrs.Elements()
		if ok && err == nil {
			s.Attributes = make(map[string]any, len(elems))
			for _, e := range elems {
				s.Attributes[e.Key()] = plainValue(e.Value())
			}
		} else {
			s.Unreadable.Attributes = true
		}
	}
	if v := doc.Lookup("tags"); !absent(v) {
		ok := eachValue(v, func(t bson.RawValue) {
			if name, ok := t.StringValueOK(); ok {
				s.Tags = append(s.Tags, name)
			} else {
				s.Unreadable.Tags = true
			}
		})
		s.Unreadable.Tags = s.Unreadable.Tags || !ok
	}
	s.Consents, s.Unreadable.Consents = readList(doc.Lookup("consents"), func(c bson.Raw) (profile.Consent, bool) {
		channel, ok1 := c.Lookup("channel").StringValueOK()
		topic, ok2 := optionalText(c.Lookup("topic"))
		status, ok3 := c.Lookup("status").StringValueOK()
		return profile.Consent{Channel: channel, Topic: topic, Status: status, At: dateOf(c.Lookup("at"))}, ok1 && ok2 && ok3
	})
	s.Events, s.Unreadable.Events = readList(doc.Lookup("events"), func(e bson.Raw) (profile.Event, bool) {
		// An event's data is not read: no condition looks at it.
		typ, ok := e.Lookup("type").StringValueOK()
		at, isDate := e.Lookup("at").DateTimeOK()
		return profile.Event{Type: typ, At: time.UnixMilli(at).UTC()}, ok && isDate
	})
	return s
}

// readList reads an array of documents with read, keeping the items read
// whole; unreadable reports whether the array or some item was not.
func readList[T any](v bson.RawValue, read func(bson.Raw) (T, bool)) (items []T, unreadable bool) {
	if absent(v) {
		return nil, false
	}
	ok := eachValue(v, func(item bson.RawValue) {
		doc, ok := item.DocumentOK()
		if !ok {
			unreadable = true
			return
		}
		if t, ok := read(doc); ok {
			items = append(items, t)
		} else {
			unreadable = true
		}
	})
	return items, unreadable || !ok
}

// absent reports whether a looked-up value is missing or null.
func absent(v bson.RawValue) bool {
	return v.Type == 0 || v.Type == bson.TypeNull
}

// eachValue calls fn with each value of an array, in order, and reports
// whether v is a well-formed array. It reads the array in place, without
// the two slices RawArray.Values allocates: a segment scan walks a dozen
// arrays per profile.
func eachValue(v bson.RawValue, fn func(bson.RawValue)) bool {
	a, ok := v.ArrayOK()
	if !ok {
		return false
	}
	length, _, ok := bsoncore.ReadLength(a)
	if !ok || length < 5 || int(length) > len(a) {
		return false
	}
	for rem := a[4 : length-1]; len(rem) > 0; {
		elem, next, ok := bsoncore.ReadElement(rem)
		if !ok {
			return false
		}
		val, err := elem.ValueErr()
		if err != nil {
			return false
		}
		fn(bson.RawValue{Type: bson.Type(val.Type), Value: val.Data})
		rem = next
	}
	return true
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

// plainValue is a stored attribute value as a plain Go value: text as
// string, numbers as int32, int64 or float64 (a decimal as the float64
// nearest to it), booleans as bool, dates and timestamps as time.Time, null
// as nil. Anything else (documents, arrays, binary data …) stays a
// bson.RawValue, which exists but equals and compares to nothing.
func plainValue(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeInt32:
		return v.Int32()
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeDateTime:
		return time.UnixMilli(v.DateTime()).UTC()
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return time.Unix(int64(t), 0).UTC()
	case bson.TypeDecimal128:
		x, err := strconv.ParseFloat(v.Decimal128().String(), 64)
		if err != nil {
			return v
		}
		return x
	case bson.TypeNull, bson.TypeUndefined:
		return nil
	}
	return v
}
