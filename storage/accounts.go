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

const accountsCollection = "accounts"

// accountDoc is an account's settings for this service.
type accountDoc struct {
	ID        string      `bson:"_id"`
	Features  []string    `bson:"features"`
	Webhook   *webhookDoc `bson:"webhook,omitempty"`
	UpdatedAt time.Time   `bson:"updated_at"`
}

// webhookDoc is where an account's job endings are posted, and the secret
// they are signed with.
type webhookDoc struct {
	URL    string `bson:"url"`
	Secret []byte `bson:"secret"`
}

// AccountFeatures returns the features activated for the account, and
// whether the account has settings at all (when not, the service's defaults
// apply).
func (s *Store) AccountFeatures(ctx context.Context, accountID string) ([]string, bool, error) {
	var d accountDoc
	err := s.accounts.FindOne(ctx, bson.D{{"_id", accountID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read account: %w", err)
	}
	if d.Features == nil {
		// Settings without features (only a webhook): the defaults apply.
		return nil, false, nil
	}
	return d.Features, true, nil
}

// SetAccountFeatures replaces the features activated for the account.
func (s *Store) SetAccountFeatures(ctx context.Context, accountID string, features []string) error {
	if features == nil {
		features = []string{}
	}
	// Only the features: the account's other settings stay.
	_, err := s.accounts.UpdateOne(ctx, bson.D{{"_id", accountID}},
		bson.D{{"$set", bson.D{{"features", features}, {"updated_at", now()}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("set account features: %w", err)
	}
	return nil
}

// CountActiveJobs returns how many of the account's jobs are queued or
// running.
func (s *Store) CountActiveJobs(ctx context.Context, accountID string) (int64, error) {
	n, err := s.jobs.CountDocuments(ctx, bson.D{{"account_id", accountID}, {"state", bson.D{{"$in", bson.A{stateQueued, stateRunning}}}}})
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// CountUploadsInProgress returns how many of the account's uploads are still
// receiving bytes and were started after since.
func (s *Store) CountUploadsInProgress(ctx context.Context, accountID string, since time.Time) (int64, error) {
	n, err := s.uploads.CountDocuments(ctx, bson.D{{"account_id", accountID}, {"complete", false}, {"created_at", bson.D{{"$gt", since}}}})
	if err != nil {
		return 0, fmt.Errorf("count uploads: %w", err)
	}
	return n, nil
}

// QueueStats returns, across accounts, how many jobs are queued and running,
// the age of the oldest queued job at now, and how many uploads are still
// receiving bytes (metrics). The {state, _id} index serves the job counts
// and the oldest.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (queued, running int64, oldest time.Duration, uploads int64, err error) {
	if queued, err = s.jobs.CountDocuments(ctx, bson.D{{"state", stateQueued}}); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count queued jobs: %w", err)
	}
	if running, err = s.jobs.CountDocuments(ctx, bson.D{{"state", stateRunning}}); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count running jobs: %w", err)
	}
	var first struct {
		CreatedAt time.Time `bson:"created_at"`
	}
	err = s.jobs.FindOne(ctx, bson.D{{"state", stateQueued}}, options.FindOne().SetSort(bson.D{{"_id", 1}}).SetProjection(bson.D{{"created_at", 1}})).Decode(&first)
	switch {
	case err == nil:
		oldest = max(now.Sub(first.CreatedAt), 0)
	case !errors.Is(err, mongo.ErrNoDocuments):
		return 0, 0, 0, 0, fmt.Errorf("find the oldest queued job: %w", err)
	}
	if uploads, err = s.uploads.CountDocuments(ctx, bson.D{{"complete", false}}); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("count uploads: %w", err)
	}
	return queued, running, oldest, uploads, nil
}

// SetAccountWebhook sets (or with an empty url removes) where the account's
// job endings are posted and the secret that signs them.
func (s *Store) SetAccountWebhook(ctx context.Context, accountID, url string, secret []byte) error {
	update := bson.D{{"$set", bson.D{{"webhook", webhookDoc{URL: url, Secret: secret}}, {"updated_at", now()}}}}
	if url == "" {
		update = bson.D{{"$unset", bson.D{{"webhook", ""}}}, {"$set", bson.D{{"updated_at", now()}}}}
	}
	if _, err := s.accounts.UpdateOne(ctx, bson.D{{"_id", accountID}}, update, options.UpdateOne().SetUpsert(true)); err != nil {
		return fmt.Errorf("set account webhook: %w", err)
	}
	return nil
}

// AccountWebhook returns the account's webhook URL and secret; an empty URL
// when it has none.
func (s *Store) AccountWebhook(ctx context.Context, accountID string) (string, []byte, error) {
	var d accountDoc
	err := s.accounts.FindOne(ctx, bson.D{{"_id", accountID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && d.Webhook == nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("read account: %w", err)
	}
	return d.Webhook.URL, d.Webhook.Secret, nil
}
