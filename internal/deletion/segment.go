package deletion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/storage"
)

// A segment is evaluated by reading the account's profiles in id order and
// asking segment.Eval about each one: it is the one definition of what a
// segment means, and no condition is pushed to the store, whose array
// matching differs between engines (the embedded one evaluates $elemMatch
// on arrays of documents wrongly). docs/cost-model.md says what that costs
// and which index serves it.

// segmentEval is one evaluation of a segment: the definition, the instant
// its relative conditions resolve against, and the sections whose data it
// may look at (empty: all).
type segmentEval struct {
	seg segment.Segment
	now time.Time
	// scope is whose sections the segment looks at.
	scope Caller
}

// eval decides one profile. A caller who may see only some sections gets a
// segment over those: "any section" means any of theirs.
func (e segmentEval) eval(p profile.Profile) segment.Truth {
	if len(e.scope.Sections) > 0 {
		p.Sections = slices.DeleteFunc(slices.Clone(p.Sections), func(s profile.Section) bool {
			return !s.Unreadable.Section && !e.scope.CanSee(s.SectionID)
		})
	}
	return e.seg.Eval(p, e.now)
}

// newSegmentEval checks a definition for the caller and returns its
// evaluation at now. A definition that is not valid (or names a section
// the account does not have) is an Invalid error naming the condition at
// fault; one naming a section the caller may not see is Denied. Nothing is
// evaluated then.
func (s *Service) newSegmentEval(ctx context.Context, c Caller, seg segment.Segment, now time.Time) (segmentEval, error) {
	if err := checkAccount(c.AccountID); err != nil {
		return segmentEval{}, err
	}
	if err := segmentError(seg.Validate(nil)); err != nil {
		return segmentEval{}, err
	}
	for _, r := range seg.NamedSections() {
		if !c.CanSee(r.Section) {
			return segmentEval{}, &Error{Kind: Denied, Reason: "SECTION_NOT_VISIBLE", Field: "segment", Meta: map[string]string{"path": r.Path, "section": clip(r.Section)}, Msg: fmt.Sprintf(
				"the segment's condition %s names section %q, which is not one you may see; name only your sections (%s), or ask an owner or admin", r.Path, clip(r.Section), strings.Join(c.Sections, ", "))}
		}
		ok, err := s.store.SectionExists(ctx, c.AccountID, r.Section)
		if err != nil {
			return segmentEval{}, err
		}
		if !ok {
			return segmentEval{}, segmentError(segment.UnknownSection(r))
		}
	}
	return segmentEval{seg: seg, now: now.UTC(), scope: c}, nil
}

// segmentError turns a definition's fault into an Invalid error.
func segmentError(err error) error {
	var se *segment.Error
	if errors.As(err, &se) {
		return invalidf("the segment's condition %s is not valid: %s; correct it and try again", se.Path, se.Msg).
			because("SEGMENT_INVALID", "path", se.Path).at("segment")
	}
	return err
}

// eachProfile calls fn with every profile of the account after the id
// after ("" for the first), in id order, and the segment's verdict on it,
// until fn returns false.
func (s *Service) eachProfile(ctx context.Context, accountID, after string, e segmentEval, fn func(p *profile.Profile, t segment.Truth) bool) error {
	return s.store.ScanProfiles(ctx, accountID, after, func(p profile.Profile) bool {
		return fn(&p, e.eval(p))
	})
}

// SegmentCount is how many of an account's profiles a segment matches.
type SegmentCount struct {
	// Profiles is the number of matching profiles.
	Profiles int64
	// Undecided is how many profiles the segment could not decide because
	// some of their data is stored in a form erasure cannot read; they do
	// not match (see segment.Truth).
	Undecided int64
	// Sections counts, per section id, the matching profiles that hold data
	// there: what a deletion from the segment would erase there. Every
	// section is counted, also those the caller cannot see.
	Sections []job.SectionCount
}

// CountSegment evaluates seg at time now on every profile of the caller's
// account.
func (s *Service) CountSegment(ctx context.Context, c Caller, seg segment.Segment, now time.Time) (SegmentCount, error) {
	e, err := s.newSegmentEval(ctx, c, seg, now)
	if err != nil {
		return SegmentCount{}, err
	}
	return s.countSegment(ctx, c.AccountID, e, nil)
}

// countSegment counts a segment's profiles, calling also (when set) with
// each matching one until it returns an error.
func (s *Service) countSegment(ctx context.Context, accountID string, e segmentEval, also func(*profile.Profile) error) (SegmentCount, error) {
	var count SegmentCount
	totals := sectionTotals{}
	var alsoErr error
	err := s.eachProfile(ctx, accountID, "", e, func(p *profile.Profile, t segment.Truth) bool {
		switch t {
		case segment.Unknown:
			count.Undecided++
			return true
		case segment.No:
			return true
		}
		count.Profiles++
		for _, id := range sectionIDs(p) {
			n := totals[id]
			n.Profiles++
			totals[id] = n
		}
		if also != nil {
			alsoErr = also(p)
		}
		return alsoErr == nil
	})
	if err == nil {
		err = alsoErr
	}
	count.Sections = totals.list()
	return count, err
}

// sectionIDs lists the sections a profile holds data in, once each; a
// section whose id cannot be read is left out.
func sectionIDs(p *profile.Profile) []string {
	var ids []string
	for _, sec := range p.Sections {
		if sec.SectionID != "" && !slices.Contains(ids, sec.SectionID) {
			ids = append(ids, sec.SectionID)
		}
	}
	return ids
}

// SegmentPage is one page of a segment's matching profiles.
type SegmentPage struct {
	Profiles []profile.Profile
	// Next is the token of the following page; empty on the last one.
	Next string
}

// Page sizes of ShowSegment.
const (
	defaultSegmentPage = 50
	maxSegmentPage     = 1000
)

// ShowSegment returns up to limit (1 to 1,000; 0 means 50) of the profiles
// seg matches at now, in id order, starting after the page token after (""
// for the first page). A page token is the id of the page's last profile,
// so pages stay stable while profiles are added or deleted; a page that
// ends exactly at the last match still has one, and the page after it is
// empty.
func (s *Service) ShowSegment(ctx context.Context, c Caller, seg segment.Segment, now time.Time, after string, limit int) (SegmentPage, error) {
	if limit == 0 {
		limit = defaultSegmentPage
	}
	if limit < 1 || limit > maxSegmentPage {
		return SegmentPage{}, invalidf("page_size %d is out of range: ask for 1 to %d profiles, or 0 for %d", limit, maxSegmentPage, defaultSegmentPage).because("INVALID_PAGE_SIZE").at("page_size")
	}
	if after != "" && !storage.ValidID(after) {
		return SegmentPage{}, invalidf("the page token is not one this service returned: pass next_page_token from the previous page, or none for the first").because("INVALID_PAGE_TOKEN").at("page_token")
	}
	e, err := s.newSegmentEval(ctx, c, seg, now)
	if err != nil {
		return SegmentPage{}, err
	}
	var page SegmentPage
	err = s.eachProfile(ctx, c.AccountID, after, e, func(p *profile.Profile, t segment.Truth) bool {
		if t != segment.Yes {
			return true
		}
		page.Profiles = append(page.Profiles, *p)
		if len(page.Profiles) < limit {
			return true
		}
		page.Next = p.ID
		return false
	})
	return page, err
}
