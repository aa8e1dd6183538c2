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

// scanDoc is a whole profile as stored, read leniently: a date another
// writer stored as text or a number reads as no date rather than failing
// the scan, since one odd profile must not stop a segment.
type scanDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Key       keyDoc        `bson:"key"`
	Email     string        `bson:"email"`
	Phone     string        `bson:"phone"`
	CRMID     string        `bson:"crm_id"`
	Sections  []struct {
		SectionID  string         `bson:"section_id"`
		Attributes map[string]any `bson:"attributes"`
		Tags       []string       `bson:"tags"`
		Consents   []struct {
			Channel string        `bson:"channel"`
			Topic   string        `bson:"topic"`
			Status  string        `bson:"status"`
			At      bson.RawValue `bson:"at"`
		} `bson:"consents"`
		Events []struct {
			Type string         `bson:"type"`
			At   bson.RawValue  `bson:"at"`
			Data map[string]any `bson:"data"`
		} `bson:"events"`
	} `bson:"sections"`
	CreatedAt bson.RawValue `bson:"created_at"`
	UpdatedAt bson.RawValue `bson:"updated_at"`
}

// profile is the domain's form of a scanned profile.
func (d *scanDoc) profile() profile.Profile {
	p := profile.Profile{
		ID:        d.ID.Hex(),
		AccountID: d.AccountID,
		Key:       profile.Key{Type: keyTypes.value(d.Key.Type), Value: d.Key.Value},
		Email:     d.Email,
		Phone:     d.Phone,
		CRMID:     d.CRMID,
		CreatedAt: dateOf(d.CreatedAt),
		UpdatedAt: dateOf(d.UpdatedAt),
	}
	for _, sd := range d.Sections {
		sec := profile.Section{SectionID: sd.SectionID, Attributes: plainMap(sd.Attributes), Tags: sd.Tags}
		for _, c := range sd.Consents {
			sec.Consents = append(sec.Consents, profile.Consent{Channel: c.Channel, Topic: c.Topic, Status: c.Status, At: dateOf(c.At)})
		}
		for _, e := range sd.Events {
			sec.Events = append(sec.Events, profile.Event{Type: e.Type, At: dateOf(e.At), Data: plainMap(e.Data)})
		}
		p.Sections = append(p.Sections, sec)
	}
	return p
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
