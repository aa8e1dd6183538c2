package storage_test

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

// The profiles collection belongs to the platform, which may have created
// the unique key index itself, under its own name, or sharded the
// collection so that a new unique index is refused: the service starts when
// an index with the same keys (unique) is there, and otherwise names the
// index it needs.
func TestStartsWithThePlatformsOwnKeyIndex(t *testing.T) {
	t.Parallel()
	keys := bson.D{{"account_id", 1}, {"key.type", 1}, {"key.value", 1}}
	for _, tc := range []struct {
		name  string
		index mongo.IndexModel
		want  string // "" to start
	}{
		{"the unique index under another name", mongo.IndexModel{Keys: keys, Options: options.Index().SetUnique(true).SetName("platform_key")}, ""},
		{"a non-unique index in its place", mongo.IndexModel{Keys: keys}, "needs a unique index on {account_id: 1, key.type: 1, key.value: 1}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			uri, db := storagetest.URI(t), storagetest.DatabaseName(t)
			c, err := mongo.Connect(options.Client().ApplyURI(uri))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Disconnect(ctx)
			profiles := c.Database(db).Collection("profiles")
			if err := c.Database(db).Drop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := profiles.Indexes().CreateOne(ctx, tc.index); err != nil {
				t.Fatal(err)
			}
			store, err := storage.Open(ctx, storage.Options{URI: uri, Database: db})
			if store != nil {
				store.Close(ctx)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Open: %v, want a start", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Open: %v, want %q", err, tc.want)
			}
		})
	}
}
