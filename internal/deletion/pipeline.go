package deletion

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// Spec says how rows are matched to profiles.
type Spec struct {
	Type          identifier.Type
	DefaultRegion string
}

func (sp Spec) normalizer() (*identifier.Normalizer, error) {
	switch sp.Type {
	case identifier.Email, identifier.Phone, identifier.CRMID:
	default:
		return nil, invalidf("identifier_type is required: choose the Unique Identifier the profiles were created with (email, phone or CRM ID); only profiles with that identifier type can match").because("INVALID_REGION").at("spec.default_region").because("IDENTIFIER_TYPE_REQUIRED").at("spec.identifier_type")
	}
	n, err := identifier.New(sp.Type, sp.DefaultRegion)
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	return n, nil
}

// displayName is how an identifier type reads in a sentence.
func displayName(t identifier.Type) string {
	switch t {
	case identifier.Email:
		return "e-mail"
	case identifier.Phone:
		return "phone number"
	case identifier.CRMID:
		return "CRM ID"
	}
	return t.String()
}

// row is one row on its way through the pipeline.
type row struct {
	num        int64
	value      string
	normalized string
	// outcome is zero until the row is decided; a row that matched a
	// profile is decided by the job's action (action.decide).
	outcome job.Outcome
	reason  string
	dupOf   int64
	match   *profile.Match
	// sections are the matched profile's sections the row's outcome
	// concerns: all of them for a deletion, those holding a selected
	// consent for an unsubscribe.
	sections []string
	// consents are the consents an unsubscribed row opts out.
	consents []profile.ConsentRef
	// erased is set on a row not found because an earlier job erased its
	// profile (its hint says which).
	erased bool
	// stored is set on a row whose outcome was read back from an earlier
	// try of its batch: that outcome is the truth.
	stored bool
	// otherKey is set on a row not found whose value is the Unique
	// Identifier of a profile of another type.
	otherKey bool
	hint     string
	// keyHash and profileHash are the audit trail's hashes of a matched
	// profile's Unique Identifier and id (see audit.go).
	keyHash, profileHash []byte
}

// normalizer turns a cell into the comparable form of an identifier, or
// fails with a reason (identifier.Normalizer, profileIDs).
type normalizer interface {
	Normalize(raw string) (string, error)
}

// matcher is how a job's rows are read and found: by Unique Identifier for
// files and lists, by profile id for a single-profile deletion.
type matcher struct {
	norm normalizer
	// resolve sets the match of every undecided row that matches a
	// profile (reading its consents too when asked) and decides the rows
	// that match none.
	resolve func(ctx context.Context, accountID string, batch []row, hints, consents bool) error
	// crm is set for CRM IDs, where any text is a valid value.
	crm bool
	// typ is the Unique Identifier type rows are matched by; zero when they
	// are profile ids.
	typ identifier.Type
}

// matcherFor returns how job j's rows are matched; for a segment job, also
// the snapshot its rows come from.
func (s *Service) matcherFor(ctx context.Context, j *job.Job) (matcher, *job.Snapshot, error) {
	switch j.Kind {
	case job.FromSegment:
		return s.segmentMatcher(ctx, j)
	case job.FromProfile:
		return matcher{norm: profileIDs{}, resolve: s.resolveIDs}, nil, nil
	}
	m, err := s.keyMatcher(Spec{Type: j.IdentifierType, DefaultRegion: j.DefaultRegion})
	return m, nil, err
}

func (s *Service) keyMatcher(sp Spec) (matcher, error) {
	norm, err := sp.normalizer()
	if err != nil {
		return matcher{}, err
	}
	return matcher{
		norm: norm,
		resolve: func(ctx context.Context, accountID string, batch []row, hints, consents bool) error {
			return s.resolveKeys(ctx, accountID, sp.Type, batch, hints, consents)
		},
		crm: sp.Type == identifier.CRMID,
		typ: sp.Type,
	}, nil
}

// profileIDs normalizes profile ids: 24 hexadecimal digits, lower-cased.
type profileIDs struct{}

func (profileIDs) Normalize(raw string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(raw))
	if !storage.ValidID(id) {
		return "", &identifier.InvalidError{Reason: "not a profile id: a profile id has 24 hexadecimal digits"}
	}
	return id, nil
}

// resolveIDs marks each valid row as matched or not found by profile id.
func (s *Service) resolveIDs(ctx context.Context, accountID string, batch []row, _, consents bool) error {
	for i := range batch {
		r := &batch[i]
		if r.outcome != 0 {
			continue
		}
		m, err := s.store.FindByID(ctx, accountID, r.normalized, consents)
		switch {
		case err == nil:
			r.match = &m
		case errors.Is(err, storage.ErrNotFound):
			r.outcome = job.NotFound
		default:
			return fmt.Errorf("resolve profile id: %w", err)
		}
	}
	return nil
}

// reasonOf returns why a normalizer refused a value (a reason never quotes
// the value), or otherwise when the error is of another kind.
func reasonOf(err error, otherwise string) string {
	var ie *identifier.InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return otherwise
}

// classifier sorts rows into invalid, duplicate and valid before any lookup.
// It remembers every valid value of the job, as a hash (see seenSet).
type classifier struct {
	norm   normalizer
	column string
	seeds  [2]maphash.Seed
	seen   *seenSet
}

// newClassifier returns a classifier for about expected rows (0 when not
// known; it grows as needed).
func newClassifier(norm normalizer, column string, expected int64) *classifier {
	return &classifier{
		norm:   norm,
		column: column,
		seeds:  [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		seen:   newSeenSet(int(min(expected, maxRowNumber))),
	}
}

// maxRowNumber is the largest row number the duplicate check can record;
// the upload size limit keeps files far below it (a row takes at least two
// bytes, and -max-upload-mb is at most 4096).
const maxRowNumber = 1<<32 - 1

// release gives back the memory of the duplicate check; the classifier
// must not be used after.
func (c *classifier) release() { c.seen.release() }

func (c *classifier) classify(num int64, value string, state cellState) row {
	r := row{num: num, value: value}
	switch state {
	case cellMissing:
		r.outcome, r.reason = job.Invalid, fmt.Sprintf("the row has no cell in %s", c.column)
		return r
	case cellUncomputed:
		r.outcome, r.reason = job.Invalid, uncomputedReason
		return r
	}
	n, err := c.norm.Normalize(unneutralise(value))
	if err != nil {
		r.outcome, r.reason = job.Invalid, reasonOf(err, err.Error())
		return r
	}
	r.normalized = n
	hi, lo := maphash.String(c.seeds[0], n), uint32(maphash.String(c.seeds[1], n))
	if first, ok := c.seen.firstOrAdd(hi, lo, uint32(min(num, maxRowNumber))); ok {
		r.outcome, r.dupOf = job.Duplicate, int64(first)
	}
	return r
}

// uncomputedReason is why a formula cell without a saved result is not
// read: the file shows no value for it, though a spreadsheet program would
// compute one on opening.
const uncomputedReason = "the cell holds a formula whose result the file does not have (it was written by a program that leaves the computing to Excel): open the file in Excel or LibreOffice, save it, and upload the saved file"

// unneutralise drops the apostrophe that CSV exporters (this service's
// segment export and reports among them, see neutralise) put before a cell
// starting with = + - or @, so that a spreadsheet does not run it as a
// formula: such a file's "'+46701234567" is the phone number +46701234567.
// Only the value normalized changes; the row keeps the cell as read.
func unneutralise(cell string) string {
	s := strings.TrimSpace(cell)
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("=+-@", s[1]) >= 0 {
		return s[1:]
	}
	return cell
}

// resolveKeys looks up the valid rows of a batch in one query and marks each
// as matched or not found. With hints the same query also returns the
// profiles that explain rows not found (keyed by another type, or holding
// the value as an attribute). Only a profile keyed by t with the row's
// value is a match. Rows that already have an outcome are left as they are.
func (s *Service) resolveKeys(ctx context.Context, accountID string, t identifier.Type, batch []row, hints, consents bool) error {
	var values []string
	for _, r := range batch {
		if r.outcome == 0 && r.match == nil {
			values = append(values, r.normalized)
		}
	}
	if len(values) == 0 {
		return nil
	}
	var found []profile.Match
	var err error
	if hints {
		found, err = s.store.FindWithRelated(ctx, accountID, t, values, consents)
	} else {
		found, err = s.store.FindByKeys(ctx, accountID, t, values, consents)
	}
	if err != nil {
		return fmt.Errorf("resolve batch: %w", err)
	}
	byValue := make(map[string]*profile.Match, len(found))
	hint := make(map[string]string)
	// otherKey holds the values that are another type's key: rows with them
	// would match under that type.
	otherKey := make(map[string]bool)
	for i := range found {
		p := &found[i]
		if p.Key.Type == t {
			byValue[p.Key.Value] = p
		} else {
			otherKey[p.Key.Value] = true
		}
		for _, v := range []string{p.Key.Value, p.Attribute(t)} {
			// A value that is another profile's key says most: it wins.
			if v != "" && (hint[v] == "" || (v == p.Key.Value && p.Key.Type != t)) {
				hint[v] = explain(*p, t, v)
			}
		}
	}
	for i := range batch {
		r := &batch[i]
		if r.outcome != 0 || r.match != nil {
			continue
		}
		if m, ok := byValue[r.normalized]; ok {
			r.match = m
		} else {
			r.outcome, r.hint, r.otherKey = job.NotFound, hint[r.normalized], otherKey[r.normalized]
		}
	}
	return nil
}

// explain says why value, which matched no profile keyed by t, relates to p.
func explain(p profile.Match, t identifier.Type, value string) string {
	want := displayName(t)
	if p.Key.Value == value && p.Key.Type != t {
		return fmt.Sprintf("a profile has this value as its %s identifier; delete with %s as the Unique Identifier to remove it",
			displayName(p.Key.Type), displayName(p.Key.Type))
	}
	if p.Key.Type != t {
		return fmt.Sprintf("a profile identified by %s has this %s as an attribute; it can only be deleted by its %s",
			displayName(p.Key.Type), want, displayName(p.Key.Type))
	}
	return fmt.Sprintf("a profile identified by another %s has this one as an attribute", want)
}

// readBatch fills batch with up to size classified rows; it returns io.EOF
// (with the last rows) at the end of the source.
func readBatch(src rowSource, c *classifier, batch []row, size int) ([]row, error) {
	batch = batch[:0]
	for len(batch) < size {
		num, value, state, err := src.next()
		if err != nil {
			return batch, err
		}
		batch = append(batch, c.classify(num, value, state))
	}
	return batch, nil
}
