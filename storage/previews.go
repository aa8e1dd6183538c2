package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const previewsCollection = "previews"

// PreviewRecord is a preview run on the server: where it is, and its
// result once it ended. The result holds the preview's sample rows, which
// hold identifiers: a record is deleted when it expires.
type PreviewRecord struct {
	ID        string
	AccountID string
	// State is "running", "succeeded", "failed" or "cancelled".
	State string
	// Rows is how many rows were read so far.
	Rows            int64
	CancelRequested bool
	// Result is the preview's summary as the domain wrote it; Error why it
	// failed.
	Result []byte
	Error  string
	// UpdatedAt is the runner's last write: a running preview whose
	// runner stopped writing was lost with its server.
	UpdatedAt time.Time
	ExpiresAt time.Time
}

type previewDoc struct {
	ID              bson.ObjectID `bson:"_id"`
	AccountID       string        `bson:"account_id"`
	State           string        `bson:"state"`
	Rows            int64         `bson:"rows"`
	CancelRequested bool          `bson:"cancel_requested,omitempty"`
	Result          []byte        `bson:"result,omitempty"`
	Error           string        `bson:"error,omitempty"`
	CreatedAt       time.Time     `bson:"created_at"`
	UpdatedAt       time.Time     `bson:"updated_at"`
	ExpiresAt       time.Time     `bson:"expires_at"`
}

func (d *previewDoc) record() *PreviewRecord {
	return &PreviewRecord{ID: d.ID.Hex(), AccountID: d.AccountID, State: d.State, Rows: d.Rows, CancelRequested: d.CancelRequested,
		Result: d.Result, Error: d.Error, UpdatedAt: d.UpdatedAt, ExpiresAt: d.ExpiresAt}
}

// CreatePreview stores a new running preview of the account, kept until
// expiresAt, and returns its id.
func (s *Store) CreatePreview(ctx context.Context, accountID string, expiresAt time.Time) (string, error) {
	t := now()
	d := previewDoc{ID: bson.NewObjectID(), AccountID: accountID, State: "running", CreatedAt: t, UpdatedAt: t, ExpiresAt: expiresAt.UTC().Truncate(time.Millisecond)}
	if _, err := s.previews.InsertOne(ctx, d); err != nil {
		return "", fmt.Errorf("create preview: %w", err)
	}
	return d.ID.Hex(), nil
}

// GetPreview returns a preview of the account.
func (s *Store) GetPreview(ctx context.Context, accountID, id string) (*PreviewRecord, error) {
	var d previewDoc
	if err := findOwned(ctx, s.previews, accountID, id, "get preview", &d); err != nil {
		return nil, err
	}
	return d.record(), nil
}

// SavePreview records a running preview's progress, or its end when state
// is not "running" (with its result or error). It reports whether someone
// asked the preview to stop. Only a running preview is changed.
func (s *Store) SavePreview(ctx context.Context, accountID, id, state string, rows int64, result []byte, reason string) (cancel bool, err error) {
	oid, err := parseID(id)
	if err != nil {
		return false, err
	}
	set := bson.D{{"state", state}, {"rows", rows}, {"updated_at", now()}}
	if result != nil {
		set = append(set, bson.E{"result", result})
	}
	if reason != "" {
		set = append(set, bson.E{"error", reason})
	}
	var d previewDoc
	err = s.previews.FindOneAndUpdate(ctx, bson.D{{"_id", oid}, {"account_id", accountID}, {"state", "running"}},
		bson.D{{"$set", set}}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, ErrConflict
	}
	if err != nil {
		return false, fmt.Errorf("save preview: %w", err)
	}
	return d.CancelRequested, nil
}

// CancelPreview asks a running preview of the account to stop.
func (s *Store) CancelPreview(ctx context.Context, accountID, id string) error {
	oid, err := parseID(id)
	if err != nil {
		return err
	}
	res, err := s.previews.UpdateOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}},
		bson.D{{"$set", bson.D{{"cancel_requested", true}}}})
	if err != nil {
		return fmt.Errorf("cancel preview: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteExpiredPreviews deletes previews past their expiry, with the
// sample rows they hold, and returns how many.
func (s *Store) DeleteExpiredPreviews(ctx context.Context, at time.Time) (int64, error) {
	res, err := s.previews.DeleteMany(ctx, bson.D{{"expires_at", bson.D{{"$lt", at}}}})
	if err != nil {
		return 0, fmt.Errorf("delete expired previews: %w", err)
	}
	return res.DeletedCount, nil
}
