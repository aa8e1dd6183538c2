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

// ScanProfiles returns up to limit of the account's profiles after the one
// with id after ("" for the first), in id order, whole: what a segment is
// evaluated on. Values read from attributes and event data are plain Go
// values: dates as time.Time, numbers as int32, int64 or float64, documents
// as bson.D, arrays as bson.A. On MongoDB the {account_id, _id} index serves
// the scan.
func (s *Store) ScanProfiles(ctx context.Context, accountID, after string, limit int) ([]profile.Profile, error) {
	filter := bson.D{{"account_id", accountID}}
	if after != "" {
		oid, err := parseID(after)
		if err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{"_id", bson.D{{"$gt", oid}}})
	}
	cur, err := s.profiles.Find(ctx, filter, options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(int64(limit)).SetBatchSize(int32(limit)))
	if err != nil {
		return nil, fmt.Errorf("scan profiles: %w", err)
	}
	var docs []scanDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("scan profiles: %w", err)
	}
	out := make([]profile.Profile, len(docs))
	for i := range docs {
		out[i] = docs[i].profile()
	}
	return out, nil
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
