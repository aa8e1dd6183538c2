package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
)

// webhookDeliveries holds the job endings to post to accounts' webhooks:
// one document per ended job (its _id), written when the job ends, so a
// delivery survives crashes and is made by whichever instance is free.
const webhookDeliveriesCollection = "webhook_deliveries"

type deliveryDoc struct {
	ID        string     `bson:"_id"`
	AccountID string     `bson:"account_id"`
	Body      []byte     `bson:"body"`
	Attempts  int        `bson:"attempts"`
	NextAt    time.Time  `bson:"next_at"`
	LastError string     `bson:"last_error,omitempty"`
	Delivered *time.Time `bson:"delivered_at,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
}

func (d *deliveryDoc) delivery() *job.Delivery {
	return &job.Delivery{JobID: d.ID, AccountID: d.AccountID, Body: d.Body, Attempts: d.Attempts}
}

// AddDelivery records a job ending to post; recording it again is harmless.
func (s *Store) AddDelivery(ctx context.Context, d *job.Delivery, at time.Time) error {
	doc := deliveryDoc{ID: d.JobID, AccountID: d.AccountID, Body: d.Body, NextAt: at, CreatedAt: at}
	_, err := s.deliveries.InsertOne(ctx, doc)
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("add webhook delivery: %w", err)
	}
	return nil
}

// TakeDelivery claims the next delivery due at now that is not delivered
// and has attempts left, by moving its next attempt to now+hold (so other
// instances skip it meanwhile); ErrNotFound when none is due.
func (s *Store) TakeDelivery(ctx context.Context, now time.Time, hold time.Duration, maxAttempts int) (*job.Delivery, error) {
	var d deliveryDoc
	err := s.deliveries.FindOneAndUpdate(ctx,
		bson.D{{"delivered_at", bson.D{{"$exists", false}}}, {"next_at", bson.D{{"$lte", now}}}, {"attempts", bson.D{{"$lt", maxAttempts}}}},
		bson.D{{"$set", bson.D{{"next_at", now.Add(hold)}}}, {"$inc", bson.D{{"attempts", 1}}}},
		options.FindOneAndUpdate().SetSort(bson.D{{"next_at", 1}}).SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("take webhook delivery: %w", err)
	}
	return d.delivery(), nil
}

// DeliveryDone marks a delivery made.
func (s *Store) DeliveryDone(ctx context.Context, jobID string, at time.Time) error {
	if _, err := s.deliveries.UpdateOne(ctx, bson.D{{"_id", jobID}}, bson.D{{"$set", bson.D{{"delivered_at", at}}}}); err != nil {
		return fmt.Errorf("mark webhook delivery: %w", err)
	}
	return nil
}

// DeliveryFailed records a failed attempt and when to try again.
func (s *Store) DeliveryFailed(ctx context.Context, jobID, why string, next time.Time) error {
	if _, err := s.deliveries.UpdateOne(ctx, bson.D{{"_id", jobID}}, bson.D{{"$set", bson.D{{"next_at", next}, {"last_error", why}}}}); err != nil {
		return fmt.Errorf("mark webhook delivery: %w", err)
	}
	return nil
}

// DeleteOldDeliveries deletes deliveries created before before.
func (s *Store) DeleteOldDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.deliveries.DeleteMany(ctx, bson.D{{"created_at", bson.D{{"$lt", before}}}})
	if err != nil {
		return 0, fmt.Errorf("delete old webhook deliveries: %w", err)
	}
	return res.DeletedCount, nil
}
