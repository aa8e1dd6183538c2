package deletion

import (
	"context"
	"time"
)

// Test seams: the package's tests reach these through here, so they are not
// part of the package's API.

// The points of a batch where a fault can be injected.
const (
	FaultAfterOutcomes = faultAfterOutcomes
	FaultAfterChange   = faultAfterChange
	FaultAfterRecord   = faultAfterRecord
)

// SetFault makes every batch call f at each fault point; an error it
// returns is taken as the store call there failing. Set it before Run.
func SetFault(s *Service, f func(point string) error) { s.fault = f }

// SetClock replaces the clock of retention and expiry decisions. Set it
// before Run.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// SweepOnce deletes what has expired by the service's clock.
func SweepOnce(ctx context.Context, s *Service) error { return s.sweepOnce(ctx) }

// MarkPreviewHere records that this instance runs the preview id, as
// runPreview does.
func MarkPreviewHere(s *Service, id string) { s.previewsHere.Store(id, true) }
