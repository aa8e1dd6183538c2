package storage_test

import (
	"context"
	"io"
	"testing"
	"time"

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
