// Package profile is the model of the platform's profile documents, which
// erasure finds and deletes (docs/data-model.md): a profile is keyed by one
// Unique Identifier and holds data in any number of sections.
package profile

import (
	"slices"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
)

// Profile is one profile of an account.
type Profile struct {
	// ID is the profile's id: 24 hexadecimal digits. Empty in a profile to
	// be inserted means a new one.
	ID        string
	AccountID string
	Key       Key
	// Email, Phone and CRMID are identifier attributes: a profile keyed by
	// one type may also hold the others.
	Email     string
	Phone     string
	CRMID     string
	Sections  []Section
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Key is a profile's Unique Identifier, normalized.
type Key struct {
	Type  identifier.Type
	Value string
}

// Section is the data a profile holds in one section of the account.
type Section struct {
	SectionID  string
	Attributes map[string]any
	Tags       []string
	Consents   []Consent
	Events     []Event
	// Unreadable marks the parts of the section that another writer stored
	// in a form erasure cannot read. They are left out of the fields above,
	// and a segment condition that depends on them is undecided.
	Unreadable Unreadable
}

// Unreadable marks the parts of a section stored in an unexpected form.
type Unreadable struct {
	// Section: the section is not a document or its id is not text; every
	// part is then marked too.
	Section bool
	// Attributes: the attributes are not a document.
	Attributes bool
	// Tags: the tags are not a list, or hold something other than text.
	Tags bool
	// Consents: a consent is not a document, or its channel, topic or
	// status is not text.
	Consents bool
	// Events: an event is not a document, its type is not text, or its
	// date is not a date.
	Events bool
}

// Any reports whether some part is marked.
func (u Unreadable) Any() bool {
	return u.Section || u.Attributes || u.Tags || u.Consents || u.Events
}

// Consent is a subscription status for a channel and topic.
type Consent struct {
	Channel string
	Topic   string
	// Status is "opt_in" or "opt_out".
	Status string
	At     time.Time
}

// Event is something the profile did.
type Event struct {
	Type string
	At   time.Time
	Data map[string]any
}

// Match is a profile found by a lookup: just what a deletion needs.
type Match struct {
	ID  string
	Key Key
	// Sections lists the sections the profile holds data in.
	Sections []string
	// Email, Phone and CRMID are the profile's identifier attributes, set
	// only by lookups that explain rows that matched nothing.
	Email, Phone, CRMID string
	// Consents are the profile's consents, set only by lookups that ask
	// for them.
	Consents []SectionConsent
}

// Attribute returns the profile's identifier attribute of type t.
func (m Match) Attribute(t identifier.Type) string {
	switch t {
	case identifier.Email:
		return m.Email
	case identifier.Phone:
		return m.Phone
	case identifier.CRMID:
		return m.CRMID
	}
	return ""
}

// The consent statuses.
const (
	OptIn  = "opt_in"
	OptOut = "opt_out"
)

// ConsentRef names one consent of a profile.
type ConsentRef struct {
	SectionID string
	Channel   string
	Topic     string
}

// SectionConsent is one consent of a profile, with the section it is in.
type SectionConsent struct {
	ConsentRef
	Status string
}

// ConsentFilter selects consents: those of Channel, with one of Topics
// (any when empty), in one of Sections (any when empty).
type ConsentFilter struct {
	Channel  string
	Topics   []string
	Sections []string
}

// Selects reports whether the filter selects the consent c.
func (f ConsentFilter) Selects(c ConsentRef) bool {
	return c.Channel == f.Channel &&
		(len(f.Topics) == 0 || slices.Contains(f.Topics, c.Topic)) &&
		(len(f.Sections) == 0 || slices.Contains(f.Sections, c.SectionID))
}
