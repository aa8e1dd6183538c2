package deletion

import (
	"context"
	"errors"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
)

// segmentPage is how many profiles one read of a segment scan returns.
const segmentPage = 500

// SegmentCount is how many of an account's profiles a segment matches.
type SegmentCount struct {
	// Profiles is the number of matching profiles.
	Profiles int
	// Sections counts, per section id, the matching profiles that hold data
	// in that section: what a deletion from the segment would erase there.
	// Every section is counted, also those the caller cannot see.
	Sections map[string]int
}

// CountSegment evaluates seg at time now on every profile of the caller's
// account. A definition that is not valid is an Invalid error naming the
// condition at fault, and nothing is read.
//
// The store is asked for the account's profiles only and segment.Match
// decides each one: it is the one definition of what a segment means, and
// no condition is pushed to the store, whose array matching differs between
// engines.
func (s *Service) CountSegment(ctx context.Context, c Caller, seg segment.Segment, now time.Time) (SegmentCount, error) {
	if err := checkSegment(seg); err != nil {
		return SegmentCount{}, err
	}
	count := SegmentCount{Sections: map[string]int{}}
	err := s.eachSegmentProfile(ctx, c.AccountID, seg, now, func(p *profile.Profile) {
		count.Profiles++
		seen := map[string]bool{}
		for _, sec := range p.Sections {
			if !seen[sec.SectionID] {
				seen[sec.SectionID] = true
				count.Sections[sec.SectionID]++
			}
		}
	})
	return count, err
}

// checkSegment turns a definition's first fault into an Invalid error.
func checkSegment(seg segment.Segment) error {
	err := seg.Validate(nil)
	var se *segment.Error
	if errors.As(err, &se) {
		return invalidf("the segment's condition %s is not valid: %s; correct it and try again", se.Path, se.Msg).
			because("SEGMENT_INVALID", "path", se.Path).at("segment")
	}
	return err
}

// eachSegmentProfile calls fn with every profile of the account that seg
// matches at now, in id order.
func (s *Service) eachSegmentProfile(ctx context.Context, accountID string, seg segment.Segment, now time.Time, fn func(*profile.Profile)) error {
	after := ""
	for {
		page, err := s.store.ScanProfiles(ctx, accountID, after, segmentPage)
		if err != nil {
			return err
		}
		for i := range page {
			if seg.Match(page[i], now) {
				fn(&page[i])
			}
		}
		if len(page) < segmentPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}
