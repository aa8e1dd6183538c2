package storage_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/erasure-dev/erasure/internal/storagetest"
)

// BenchmarkUpload50MB stores a 50 MB upload in 1 MiB appends, as the web
// frontend sends it (UploadChunk), then reads it back. On the embedded
// engine every query that is not an _id equality scans the collection, so
// this shows whether the cost per append grows with the bytes stored.
//
//	go test -run '^$' -bench Upload50MB -benchtime 1x ./storage/
func BenchmarkUpload50MB(b *testing.B) {
	ctx := context.Background()
	s := storagetest.New(b, nil)
	const size, piece = 50 << 20, 1 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		u, err := s.CreateUpload(ctx, "acme", "big.csv", time.Now().Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		var first, last time.Duration
		for off := 0; off < size; off += piece {
			t := time.Now()
			end := min(off+piece, size)
			if _, err := s.AppendUpload(ctx, "acme", u.ID, int64(off), data[off:end], end == size, size); err != nil {
				b.Fatal(err)
			}
			switch d := time.Since(t); {
			case off == 0:
				first = d
			case end == size:
				last = d
			}
		}
		stored := time.Since(start)
		t := time.Now()
		r, _, err := s.OpenUpload(ctx, "acme", u.ID)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != size {
			b.Fatalf("read back %d bytes, %v", n, err)
		}
		b.ReportMetric(stored.Seconds(), "s-upload/op")
		b.ReportMetric(float64(first.Milliseconds()), "ms-first-append")
		b.ReportMetric(float64(last.Milliseconds()), "ms-last-append")
		b.ReportMetric(time.Since(t).Seconds(), "s-read/op")
		if err := s.DeleteUpload(ctx, "acme", u.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineLostUpdates measures what the store itself loses when two
// writers update one document at once, with nothing of erasure involved:
// each of two raw-driver clients sends 200 updates ($inc and $push) to the
// same document. MongoDB applies each update atomically (lost/op 0); the
// embedded engine reads and rewrites the whole document, so concurrent
// updates overwrite each other (docs/design.md, Unsubscribing).
func BenchmarkEngineLostUpdates(b *testing.B) {
	ctx := context.Background()
	storagetest.New(b, nil)
	coll := storagetest.Database(b).Collection("lost_updates")
	const writers, updates = 2, 200
	var lost int64
	for i := 0; i < b.N; i++ {
		if _, err := coll.InsertOne(ctx, bson.D{{"_id", i}, {"n", 0}, {"a", bson.A{}}}); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range updates {
					if _, err := coll.UpdateOne(ctx, bson.D{{"_id", i}}, bson.D{{"$inc", bson.D{{"n", 1}}}, {"$push", bson.D{{"a", 1}}}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var doc struct {
			N int64 `bson:"n"`
		}
		if err := coll.FindOne(ctx, bson.D{{"_id", i}}).Decode(&doc); err != nil {
			b.Fatal(err)
		}
		lost += writers*updates - doc.N
	}
	b.ReportMetric(float64(lost)/float64(b.N*writers*updates), "lost/op")
}
