package deletion

import (
	"slices"
	"strings"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// sectionTotals are a job's or preview's per-section totals while they grow.
type sectionTotals map[string]job.SectionCount

// tally adds a decided batch to the counts and the section totals. In a
// deletion job (deleting) every matched row's profile is deleted by the
// batch, so deleted counts them: a batch redone after an interruption
// counts the same.
func tally(c *job.Counts, sections sectionTotals, batch []row, deleting bool) {
	for _, r := range batch {
		c.Rows++
		switch r.outcome {
		case job.Invalid:
			c.Invalid++
		case job.Duplicate:
			c.Duplicate++
		case job.NotFound:
			c.Valid++
			c.NotFound++
		case job.NoLongerMatches:
			c.Valid++
			c.NoLongerMatching++
		case job.Deleted, job.Unsubscribed, job.AlreadyUnsubscribed:
			c.Valid++
			c.Matched++
			switch {
			case r.outcome == job.Deleted && deleting:
				c.Deleted++
			case r.outcome == job.Unsubscribed:
				c.Unsubscribed++
			case r.outcome == job.AlreadyUnsubscribed:
				c.AlreadyUnsubscribed++
			}
			for _, sec := range r.sections {
				n := sections[sec]
				n.Profiles++
				if slices.ContainsFunc(r.consents, func(ref profile.ConsentRef) bool { return ref.SectionID == sec }) {
					n.Unsubscribed++
				}
				sections[sec] = n
			}
		}
	}
}

// list orders section totals by section id for stable reports.
func (t sectionTotals) list() []job.SectionCount {
	out := make([]job.SectionCount, 0, len(t))
	for id, n := range t {
		n.SectionID = id
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b job.SectionCount) int { return strings.Compare(a.SectionID, b.SectionID) })
	return out
}

func sectionTotalsOf(list []job.SectionCount) sectionTotals {
	t := make(sectionTotals, len(list))
	for _, s := range list {
		t[s.SectionID] = s
	}
	return t
}
