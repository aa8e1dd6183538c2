package deletion

import (
	"context"
	"errors"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/storage"
)

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
	err := s.eachSegmentProfile(ctx, c.AccountID, "", seg, now, func(p *profile.Profile) bool {
		count.Profiles++
		seen := map[string]bool{}
		for _, sec := range p.Sections {
			if !seen[sec.SectionID] {
				seen[sec.SectionID] = true
				count.Sections[sec.SectionID]++
			}
		}
		return true
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

// eachSegmentProfile calls fn with the profiles of the account that seg
// matches at now, in id order, from the one after the id after ("" for the
// first), until fn returns false.
func (s *Service) eachSegmentProfile(ctx context.Context, accountID, after string, seg segment.Segment, now time.Time, fn func(*profile.Profile) bool) error {
	return s.store.ScanProfiles(ctx, accountID, after, func(p profile.Profile) bool {
		return !seg.Match(p, now) || fn(&p)
	})
}

// SegmentPage is one page of a segment's matching profiles.
type SegmentPage struct {
	Profiles []profile.Profile
	// Next is the token of the following page; empty on the last one.
	Next string
}

// ShowSegment returns up to limit (1 to 1,000) of the profiles seg matches
// at now, in id order, starting after the page token after ("" for the
// first page). A page token is the id of the page's last profile, so pages
// stay stable while profiles are added or deleted; a page that ends exactly
// at the last match still has one, and the page after it is empty.
func (s *Service) ShowSegment(ctx context.Context, c Caller, seg segment.Segment, now time.Time, after string, limit int) (SegmentPage, error) {
	if err := checkSegment(seg); err != nil {
		return SegmentPage{}, err
	}
	if limit < 1 || limit > 1000 {
		return SegmentPage{}, invalidf("page size %d is out of range: ask for 1 to 1000 profiles", limit).because("PAGE_SIZE_OUT_OF_RANGE").at("page_size")
	}
	if after != "" && !storage.ValidID(after) {
		return SegmentPage{}, invalidf("the page token is not one this service returned: pass next_page_token from the previous page, or none for the first").because("PAGE_TOKEN_INVALID").at("page_token")
	}
	var page SegmentPage
	err := s.eachSegmentProfile(ctx, c.AccountID, after, seg, now, func(p *profile.Profile) bool {
		page.Profiles = append(page.Profiles, *p)
		if len(page.Profiles) < limit {
			return true
		}
		page.Next = p.ID
		return false
	})
	return page, err
}
