package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// keyTypes are the Unique Identifier types as stored in key.type (and in
// a job's identifier_type).
var keyTypes = enumNames[identifier.Type]{identifier.Email: "email", identifier.Phone: "phone", identifier.CRMID: "crm_id"}

// attributeFields are the profile fields that hold each identifier as an
// attribute; they explain rows that matched nothing.
var attributeFields = map[identifier.Type]string{identifier.Email: "email", identifier.Phone: "phone", identifier.CRMID: "crm_id"}

// profileDoc is a profile as the platform stores it (docs/data-model.md).
type profileDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Key       keyDoc        `bson:"key"`
	Email     string        `bson:"email,omitempty"`
	Phone     string        `bson:"phone,omitempty"`
	CRMID     string        `bson:"crm_id,omitempty"`
	Sections  []sectionDoc  `bson:"sections"`
	CreatedAt time.Time     `bson:"created_at"`
	UpdatedAt time.Time     `bson:"updated_at"`
}

type keyDoc struct {
	Type  string `bson:"type"`
	Value string `bson:"value"`
}

type sectionDoc struct {
	SectionID  string         `bson:"section_id"`
	Attributes map[string]any `bson:"attributes,omitempty"`
	Tags       []string       `bson:"tags,omitempty"`
	Consents   []consentDoc   `bson:"consents,omitempty"`
	Events     []eventDoc     `bson:"events,omitempty"`
}

type consentDoc struct {
	Channel string    `bson:"channel"`
	Topic   string    `bson:"topic"`
	Status  string    `bson:"status"`
	At      time.Time `bson:"at"`
}

type eventDoc struct {
	Type string         `bson:"type"`
	At   time.Time      `bson:"at"`
	Data map[string]any `bson:"data,omitempty"`
}

func toProfileDoc(p *profile.Profile) (profileDoc, error) {
	oid := bson.NewObjectID()
	if p.ID != "" {
		var err error
		if oid, err = bson.ObjectIDFromHex(p.ID); err != nil {
			return profileDoc{}, fmt.Errorf("profile id %q: %w", p.ID, err)
		}
	}
	d := profileDoc{
		ID:        oid,
		AccountID: p.AccountID,
		Key:       keyDoc{Type: keyTypes.name(p.Key.Type), Value: p.Key.Value},
		Email:     p.Email,
		Phone:     p.Phone,
		CRMID:     p.CRMID,
		Sections:  make([]sectionDoc, 0, len(p.Sections)),
		CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt,
	}
	if p.Sections == nil {
		d.Sections = nil // stored as null, as the platform's own documents without sections are
	}
	for _, sec := range p.Sections {
		sd := sectionDoc{SectionID: sec.SectionID, Attributes: sec.Attributes, Tags: sec.Tags}
		for _, c := range sec.Consents {
			sd.Consents = append(sd.Consents, consentDoc(c))
		}
		for _, e := range sec.Events {
			sd.Events = append(sd.Events, eventDoc(e))
		}
		d.Sections = append(d.Sections, sd)
	}
	return d, nil
}

// matchDoc is the part of a profile document a lookup reads.
type matchDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Key      keyDoc        `bson:"key"`
	Email    string        `bson:"email"`
	Phone    string        `bson:"phone"`
	CRMID    string        `bson:"crm_id"`
	Sections []struct {
		SectionID string `bson:"section_id"`
		// Consents are read only when asked for, as stored: the platform
		// is not bound to write strings where this service would.
		Consents []struct {
			Channel, Topic, Status bson.RawValue
		} `bson:"consents"`
	} `bson:"sections"`
}

func (d *matchDoc) match() profile.Match {
	m := profile.Match{
		ID:    d.ID.Hex(),
		Key:   profile.Key{Type: keyTypes.value(d.Key.Type), Value: d.Key.Value},
		Email: d.Email, Phone: d.Phone, CRMID: d.CRMID,
	}
	for _, s := range d.Sections {
		m.Sections = append(m.Sections, s.SectionID)
		for _, c := range s.Consents {
			channel, _ := c.Channel.StringValueOK()
			topic, _ := c.Topic.StringValueOK()
			status, _ := c.Status.StringValueOK()
			m.Consents = append(m.Consents, profile.SectionConsent{
				ConsentRef: profile.ConsentRef{SectionID: s.SectionID, Channel: channel, Topic: topic},
				Status:     status,
			})
		}
	}
	return m
}

// matchProjection reads of a profile its key and section ids, and its
// consents when asked: never its events, which can be large.
func matchProjection(consents bool, more ...string) bson.D {
	p := bson.D{{"key", 1}, {"sections.section_id", 1}}
	if consents {
		p = append(p, bson.E{"sections.consents", 1})
	}
	for _, f := range more {
		p = append(p, bson.E{f, 1})
	}
	return p
}

// FindByKeys returns the profiles of the account whose key has the given type
// and one of the given values, in one query on the unique key index; with
// consents, each profile's consents too.
func (s *Store) FindByKeys(ctx context.Context, accountID string, t identifier.Type, values []string, consents bool) ([]profile.Match, error) {
	if len(values) == 0 {
		return nil, nil
	}
	filter := bson.D{{"account_id", accountID}, {"key.type", keyTypes.name(t)}, {"key.value", bson.D{{"$in", values}}}}
	return s.findMatches(ctx, filter, matchProjection(consents), len(values))
}

// FindWithRelated returns, in one query, the profiles of the account keyed
// by type t with one of the values (the matches), together with the
// profiles that could explain why a value matched nothing: keyed by another
// type with the value as key, or holding the value as their attribute of
// type t. Callers tell them apart by their Key. One round trip instead of FindByKeys and then FindRelated;
// on a sharded cluster the attribute clause makes it go to every shard that
// holds the account.
func (s *Store) FindWithRelated(ctx context.Context, accountID string, t identifier.Type, values []string, consents bool) ([]profile.Match, error) {
	if len(values) == 0 {
		return nil, nil
	}
	filter := bson.D{{"account_id", accountID}, {"$or", bson.A{
		// Stays on the unique key index: key.type is bound to a list.
		bson.D{{"key.type", bson.D{{"$in", bson.A{keyTypes[identifier.Email], keyTypes[identifier.Phone], keyTypes[identifier.CRMID]}}}}, {"key.value", bson.D{{"$in", values}}}},
		bson.D{{attributeFields[t], bson.D{{"$in", values}}}},
	}}}
	proj := matchProjection(consents, "email", "phone", "crm_id")
	return s.findMatches(ctx, filter, proj, 2*len(values))
}

// FindByID returns one profile of the account; with consents, its consents
// too.
func (s *Store) FindByID(ctx context.Context, accountID, id string, consents bool) (profile.Match, error) {
	var d matchDoc
	if err := findOwned(ctx, s.profiles, accountID, id, "find profile", &d,
		options.FindOne().SetProjection(matchProjection(consents))); err != nil {
		return profile.Match{}, err
	}
	return d.match(), nil
}

func (s *Store) findMatches(ctx context.Context, filter, proj bson.D, expected int) ([]profile.Match, error) {
	// A batch size covering every expected document makes the whole lookup
	// one round trip instead of a find and getMores.
	opts := options.Find().SetProjection(proj).SetBatchSize(int32(min(expected+1, 100_000)))
	cur, err := s.profiles.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find profiles: %w", err)
	}
	defer cur.Close(ctx)
	var out []profile.Match
	for cur.Next(ctx) {
		var d matchDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode profile: %w", err)
		}
		out = append(out, d.match())
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("find profiles: %w", err)
	}
	return out, nil
}

// DeleteProfiles deletes the account's profiles that matched, in one
// command, and returns how many it deleted. The document goes and with it
// the profile's data in every section. Profiles of other accounts are never
// deleted. Each is named by its _id; when all share a Unique Identifier
// type their keys are named too, which can only narrow the filter and lets
// a cluster sharded by {account_id, key.type, key.value} send the delete to
// the shards that hold them instead of every shard.
func (s *Store) DeleteProfiles(ctx context.Context, accountID string, targets []profile.Match) (int64, error) {
	if len(targets) == 0 {
		return 0, nil
	}
	res, err := s.profiles.DeleteMany(ctx, targetFilter(accountID, targets))
	if err != nil {
		return 0, fmt.Errorf("delete profiles: %w", err)
	}
	return res.DeletedCount, nil
}

// RemainingProfiles returns those of targets that still exist.
func (s *Store) RemainingProfiles(ctx context.Context, accountID string, targets []profile.Match) ([]profile.Match, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	cur, err := s.profiles.Find(ctx, targetFilter(accountID, targets), options.Find().SetProjection(bson.D{{"_id", 1}}))
	if err != nil {
		return nil, fmt.Errorf("find remaining profiles: %w", err)
	}
	var docs []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find remaining profiles: %w", err)
	}
	left := make(map[string]bool, len(docs))
	for _, d := range docs {
		left[d.ID.Hex()] = true
	}
	var out []profile.Match
	for _, t := range targets {
		if left[t.ID] {
			out = append(out, t)
		}
	}
	return out, nil
}

func targetFilter(accountID string, targets []profile.Match) bson.D {
	oids := make(bson.A, 0, len(targets))
	keys := make(bson.A, 0, len(targets))
	keyType := targets[0].Key.Type
	for _, t := range targets {
		if oid, err := parseID(t.ID); err == nil {
			oids = append(oids, oid)
		}
		if t.Key.Type != keyType || t.Key.Value == "" {
			keyType = 0
		}
		keys = append(keys, t.Key.Value)
	}
	filter := bson.D{{"_id", bson.D{{"$in", oids}}}, {"account_id", accountID}}
	if keyType != 0 {
		filter = append(filter, bson.E{"key.type", keyTypes.name(keyType)}, bson.E{"key.value", bson.D{{"$in", keys}}})
	}
	return filter
}

// InsertProfiles stores new profiles (demo data and tests). Profiles whose
// key already exists in their account are skipped, so seeding twice is safe.
func (s *Store) InsertProfiles(ctx context.Context, profiles []profile.Profile) error {
	docs := make([]profileDoc, len(profiles))
	for i := range profiles {
		d, err := toProfileDoc(&profiles[i])
		if err != nil {
			return err
		}
		docs[i] = d
		profiles[i].ID = d.ID.Hex()
	}
	if err := insertNew(ctx, s.profiles, docs); err != nil {
		return fmt.Errorf("insert profiles: %w", err)
	}
	return nil
}

// CountProfiles counts the account's profiles.
func (s *Store) CountProfiles(ctx context.Context, accountID string) (int64, error) {
	n, err := s.profiles.CountDocuments(ctx, bson.D{{"account_id", accountID}})
	if err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}

// ProfileExists reports whether the account has a profile with this key.
func (s *Store) ProfileExists(ctx context.Context, accountID string, key profile.Key) (bool, error) {
	n, err := s.profiles.CountDocuments(ctx, bson.D{{"account_id", accountID}, {"key.type", keyTypes.name(key.Type)}, {"key.value", key.Value}})
	if err != nil {
		return false, fmt.Errorf("count profiles: %w", err)
	}
	return n > 0, nil
}

// insertNew inserts docs in one unordered command. Documents that already
// exist (by _id or a unique key: a retried or repeated insert) are left as
// they are.
func insertNew[T any](ctx context.Context, c *mongo.Collection, docs []T) error {
	if len(docs) == 0 {
		return nil
	}
	all := make([]any, len(docs))
	for i := range docs {
		all[i] = docs[i]
	}
	_, err := c.InsertMany(ctx, all, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicateKeys(err) {
		return err
	}
	return nil
}

// onlyDuplicateKeys reports whether err is a bulk write error made only of
// duplicate-key errors: the documents already exist, which a retried or
// repeated insert expects.
func onlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		return mongo.IsDuplicateKeyError(err)
	}
	if bwe.WriteConcernError != nil {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}
