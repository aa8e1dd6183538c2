// Package segment holds segment definitions (issue 12): a tree of all/any
// groups over conditions on a profile document (docs/data-model.md), their
// validation, and the evaluator that decides which profiles match.
//
// [Segment.Match] is the one meaning of a segment. A store may be asked for a
// coarser filter to read fewer documents, but such a filter must select a
// superset of the matching profiles (never lose one); the evaluator then
// decides for each profile read.
//
// # Trees
//
// A [Group] is All (every child matches; All with no children matches every
// profile) or Any (some child matches; Any with no children matches none).
// [Segment.Validate] rejects empty groups all the same, so that a definition
// left half-built never selects a whole audience. Every node, group or
// condition, has a Negate flag: a negated node matches exactly the profiles
// the node does not match. That is how a row excludes profiles ("has not tag",
// "did not occur"): NOT(has tag test) and NOT(email_click within 1095 days).
//
// # Sections
//
// Attribute, tag, event and consent conditions look at the sections named by
// their Section field, or at every section of the profile when it is empty
// ("in any section"). Attribute, tag and consent conditions match when some
// section in scope satisfies them. An event condition counts the events of
// its type in its time frame over all sections in scope, since the events are
// what one person did wherever they were recorded. A profile without the
// named section holds nothing there: NOT(tag test in "newsletter") matches it.
//
// # Attributes
//
// Values are compared by type, as stored: a string never equals a number
// ("5" is not 5), a number equals another whatever Go type holds it (int32 5,
// int64 5 and float64 5.0 are equal; integers compare exactly, mixed ones as
// float64), booleans equal booleans and dates ([time.Time]) equal the same
// instant. Arrays and documents equal nothing, contain nothing and compare to
// nothing; they only exist. An attribute exists when its key is present with
// a non-nil value: null counts as no value.
//
//   - OpEquals, OpNotEquals: NotEquals is "exists with another value", so in
//     any section it matches when some section holds another value. "No
//     section holds v" is NOT(equals v).
//   - OpContains, OpStartsWith: strings only, case-sensitive, byte for byte.
//   - OpExists, OpNotExists: NotExists is exactly NOT(exists), so in any
//     section it means no section holds the attribute.
//   - OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual: on numbers when the
//     value is a number, on dates when it is a [time.Time] (less is earlier);
//     a stored value of another type, or NaN, matches no comparison.
//
// # Time
//
// The evaluation time is one instant passed to [Segment.Match]; callers fix it
// once per evaluation (a count, an export, a snapshot) so that relative
// conditions mean the same for every profile. A day is 24 hours. An event is
// within the last N days when it happened at or after now minus N days; an
// event dated after now counts too, so that clock skew never makes an active
// profile look inactive. Between dates is From (inclusive) to To (exclusive),
// either open when zero. For [Time] conditions, Before is strictly earlier
// and After is at or later, so the two split every profile with the date set;
// for a profile whose date is unset (zero) both are undecided.
//
// # Unreadable data
//
// Other services write the profiles too, and a value may be stored in a form
// erasure cannot read: a tag that is not text, an event date stored as text
// ([profile.Unreadable] marks such parts). A condition that depends on such a
// part is Unknown, and so is its negation ([Truth]); groups combine the
// verdicts in three-valued logic, and only Yes matches. So a profile whose
// tags cannot be read is in neither "has tag test" nor "has not tag test"
// unless a tag that was read decides, and data nobody can read never puts a
// profile into a segment to be deleted. Counts report such profiles apart.
//
// # Limits
//
// A tree holds at most [MaxNodes] nodes below its root and nests at most
// [MaxDepth] groups, root included. Dates lie in [MinTime, MaxTime); relative
// windows span at most [MaxDays] days.
package segment

import (
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
)

// Limits on a definition, checked by [Segment.Validate].
const (
	// MaxDepth is the deepest nesting of groups, the root being depth 1.
	MaxDepth = 8
	// MaxNodes is the most groups and conditions a tree holds below its root.
	MaxNodes = 200
	// MaxDays bounds WithinDays and DaysAgo: a little over a century.
	MaxDays = 36600
	// MaxStringBytes bounds every name and string value.
	MaxStringBytes = 1024
)

// MinTime and MaxTime bound every date of a definition: no profile data
// predates 1970, and a date beyond 2100 is a typo.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Segment is a segment definition.
type Segment struct {
	Root Group
}

// Node is a group or one of the conditions: [Group], [KeyType], [Attribute],
// [Tag], [Event], [Consent] and [Time]. The set is closed.
type Node interface {
	// kind names the node in error paths.
	kind() string
}

// GroupOp says how a group joins its children.
type GroupOp string

// The group operators.
const (
	All GroupOp = "all"
	Any GroupOp = "any"
)

// Group joins its children with All or Any.
type Group struct {
	Op       GroupOp
	Negate   bool
	Children []Node
}

// KeyType matches profiles keyed by one Unique Identifier type.
type KeyType struct {
	Type   identifier.Type
	Negate bool
}

// AttrOp is an attribute condition's operator.
type AttrOp string

// The attribute operators; see the package doc for their meaning.
const (
	OpEquals         AttrOp = "equals"
	OpNotEquals      AttrOp = "not_equals"
	OpContains       AttrOp = "contains"
	OpStartsWith     AttrOp = "starts_with"
	OpExists         AttrOp = "exists"
	OpNotExists      AttrOp = "not_exists"
	OpLess           AttrOp = "lt"
	OpLessOrEqual    AttrOp = "lte"
	OpGreater        AttrOp = "gt"
	OpGreaterOrEqual AttrOp = "gte"
)

// Attribute tests a section attribute.
type Attribute struct {
	// Section is a section id; empty means any section.
	Section string
	Name    string
	Op      AttrOp
	// Value is a string, bool, number (any Go integer or float type) or
	// time.Time, as the operator needs; nil for OpExists and OpNotExists.
	Value  any
	Negate bool
}

// Tag matches profiles carrying a tag; negate it for "has not tag".
type Tag struct {
	// Section is a section id; empty means any section.
	Section string
	Name    string
	Negate  bool
}

// Event matches profiles with at least AtLeast events of Type in the time
// frame; negate it for "did not occur".
type Event struct {
	// Section is a section id; empty means any section.
	Section string
	Type    string
	// AtLeast is the least number of events; 0 means 1.
	AtLeast int
	// WithinDays, when positive, keeps the events of the last WithinDays
	// days. It excludes From and To.
	WithinDays int
	// From and To, when not zero, keep the events in [From, To).
	From, To time.Time
	Negate   bool
}

// Consent matches profiles with a consent in a given status.
type Consent struct {
	// Section is a section id; empty means any section.
	Section string
	Channel string
	// Topic is the consent's topic; empty means any topic.
	Topic string
	// Status is profile.OptIn or profile.OptOut. A profile without a consent
	// for the channel and topic is neither.
	Status string
	Negate bool
}

// TimeField names a profile's own date.
type TimeField string

// The profile dates a [Time] condition can test.
const (
	Created TimeField = "created"
	Updated TimeField = "updated"
)

// TimeOp says which side of a date a [Time] condition keeps.
type TimeOp string

// The time operators: Before is strictly earlier, After is at or later.
const (
	Before TimeOp = "before"
	After  TimeOp = "after"
)

// Time tests when a profile was created or last updated, against a fixed
// date (At) or a date relative to the evaluation time (DaysAgo); exactly one
// is set.
type Time struct {
	Field   TimeField
	Op      TimeOp
	At      time.Time
	DaysAgo int
	Negate  bool
}

func (Group) kind() string     { return "group" }
func (KeyType) kind() string   { return "key_type" }
func (Attribute) kind() string { return "attribute" }
func (Tag) kind() string       { return "tag" }
func (Event) kind() string     { return "event" }
func (Consent) kind() string   { return "consent" }
func (Time) kind() string      { return "time" }

// Error is a definition's mistake: Path names the node, such as
// "root.children[2].attribute", and Msg says what is wrong with it.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }
