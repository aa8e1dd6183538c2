package deletion

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// Task is what a job does to the profiles its rows match.
type Task struct {
	Action job.Action
	// Unsubscribe selects the consents an Unsubscribe opts out.
	Unsubscribe profile.ConsentFilter
}

// Delete is the task of a deletion.
var Delete = Task{Action: job.Delete}

// maxFilterItems bounds the topics and the sections an unsubscribe names.
const maxFilterItems = 100

// check validates the task for the caller and returns it normalized: names
// trimmed and deduplicated, and for a caller who may see only some
// sections, "every section" narrowed to those.
func (t Task) check(by Caller) (Task, error) {
	switch t.Action {
	case job.Delete:
		return Task{Action: job.Delete}, nil
	case job.Unsubscribe:
	default:
		return Task{}, fmt.Errorf("task action %s is not one this service runs", t.Action)
	}
	f := t.Unsubscribe
	f.Channel = strings.TrimSpace(f.Channel)
	if f.Channel == "" {
		return Task{}, invalidf("unsubscribe.channel is required: the channel whose consents to opt out, as the profiles' consents name it (such as email or sms)").because("CHANNEL_REQUIRED").at("unsubscribe.channel")
	}
	var err error
	if f.Topics, err = names("unsubscribe.topics", "topic", f.Topics); err != nil {
		return Task{}, err
	}
	if f.Sections, err = names("unsubscribe.sections", "section", f.Sections); err != nil {
		return Task{}, err
	}
	if len(by.Sections) > 0 {
		for _, sec := range f.Sections {
			if !by.CanSee(sec) {
				return Task{}, &Error{Kind: Denied, Reason: "SECTION_NOT_VISIBLE", Field: "unsubscribe.sections", Meta: map[string]string{"section": clip(sec)}, Msg: fmt.Sprintf(
					"section %q is not one you may see; name only your sections (%s), or ask an owner or admin", sec, strings.Join(by.Sections, ", "))}
			}
		}
		if len(f.Sections) == 0 {
			f.Sections = slices.Clone(by.Sections)
		}
	}
	return Task{Action: job.Unsubscribe, Unsubscribe: f}, nil
}

// names trims and deduplicates a list of names, refusing empty ones and
// lists too long.
func names(field, what string, list []string) ([]string, error) {
	if len(list) > maxFilterItems {
		return nil, invalidf("%s names %d %ss; name at most %d, or none for all", field, len(list), what, maxFilterItems).because("TOO_MANY_NAMES", "limit", strconv.Itoa(maxFilterItems)).at(field)
	}
	var out []string
	for _, n := range list {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, invalidf("%s holds an empty %s; remove it (an empty list means all)", field, what).because("EMPTY_NAME").at(field)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// feature is the account feature a job of this task and kind needs.
func (t Task) feature(k job.Kind) Feature {
	if t.Action == job.Unsubscribe {
		return Unsubscribing
	}
	switch k {
	case job.FromList:
		return ListDeletion
	case job.FromProfile:
		return ProfileDeletion
	case job.FromSegment:
		return SegmentDeletion
	}
	return FileDeletion
}
