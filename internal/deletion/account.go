package deletion

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Feature is a way of deleting that is activated per account. An account's
// features are stored with it (see storage.Store.SetAccountFeatures); an
// account without stored features has Config.DefaultFeatures.
type Feature string

// The features.
const (
	// FileDeletion: upload a file, inspect, preview and execute a deletion
	// by it.
	FileDeletion Feature = "file_deletion"
	// ListDeletion: delete by an inline list of identifiers
	// (DeleteIdentifiers), as a segment or an integration sends them.
	ListDeletion Feature = "list_deletion"
	// ProfileDeletion: delete one profile by id (a GDPR erasure).
	ProfileDeletion Feature = "profile_deletion"
	// Unsubscribing: opt out profiles' consents instead of deleting them,
	// by file, list or profile id.
	Unsubscribing Feature = "unsubscribe"
	// SegmentDeletion: delete the profiles a segment matches, straight
	// from the segment (PreviewSegmentDeletion, ExecuteSegmentDeletion).
	// Off unless activated for the account, as the help article has it:
	// not among DefaultFeatures.
	SegmentDeletion Feature = "segment_deletion"
)

// AllFeatures lists every feature.
var AllFeatures = []Feature{FileDeletion, ListDeletion, ProfileDeletion, Unsubscribing, SegmentDeletion}

// DefaultFeatures are the features of an account that has none stored,
// unless Config.DefaultFeatures says otherwise: all but SegmentDeletion.
var DefaultFeatures = []Feature{FileDeletion, ListDeletion, ProfileDeletion, Unsubscribing}

// ParseFeatures reads a comma-separated list of feature names.
func ParseFeatures(s string) ([]Feature, error) {
	out := []Feature{}
	for name := range strings.SplitSeq(s, ",") {
		f := Feature(strings.TrimSpace(name))
		if f == "" {
			continue
		}
		if err := checkFeature(f); err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// FeatureList writes features as the comma-separated list ParseFeatures
// reads.
func FeatureList(fs []Feature) string { return joinFeatures(fs, ",") }

func joinFeatures(fs []Feature, sep string) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, sep)
}

func checkFeature(f Feature) error {
	if !slices.Contains(AllFeatures, f) {
		return fmt.Errorf("unknown feature %q: the features are %s", f, FeatureList(AllFeatures))
	}
	return nil
}

// Features returns the features activated for the account and whether they
// are stored for it (false: the defaults apply).
func (s *Service) Features(ctx context.Context, accountID string) ([]Feature, bool, error) {
	stored, found, err := s.store.AccountFeatures(ctx, accountID)
	if err != nil || !found {
		return slices.Clone(s.cfg.DefaultFeatures), false, err
	}
	out := make([]Feature, 0, len(stored))
	for _, f := range stored {
		out = append(out, Feature(f))
	}
	return out, true, nil
}

// SetFeatures stores the features activated for the account (operators use
// `erasured features`).
func (s *Service) SetFeatures(ctx context.Context, accountID string, features []Feature) error {
	if err := checkAccount(accountID); err != nil {
		return err
	}
	names := make([]string, 0, len(features))
	for _, f := range features {
		if err := checkFeature(f); err != nil {
			return invalidf("%s", err).because("FEATURE_UNKNOWN")
		}
		names = append(names, string(f))
	}
	return s.store.SetAccountFeatures(ctx, accountID, names)
}

// requireFeature fails with Denied unless one of fs is activated for the
// account.
func (s *Service) requireFeature(ctx context.Context, accountID string, fs ...Feature) error {
	features, _, err := s.Features(ctx, accountID)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if slices.Contains(features, f) {
			return nil
		}
	}
	return &Error{Kind: Denied, Reason: "FEATURE_NOT_ACTIVATED", Meta: map[string]string{"features": joinFeatures(fs, ",")}, Msg: fmt.Sprintf(
		"the feature %s is not activated for this account; ask your account manager or support to activate it", joinFeatures(fs, " or "))}
}

// checkJobLimit fails with TooLarge when the account already has as many
// jobs queued or running as it may. The limit is checked, not reserved: two
// calls at the same instant may both pass it.
func (s *Service) checkJobLimit(ctx context.Context, accountID string) error {
	n, err := s.store.CountActiveJobs(ctx, accountID)
	if err != nil {
		return err
	}
	if n >= int64(s.cfg.MaxActiveJobsPerAccount) {
		return tooLargef("this account has %d deletions queued or running, the most it may have; wait for one to end (WatchJob) or cancel one (CancelJob), then try again", n).because("TOO_MANY_ACTIVE_JOBS", "limit", strconv.Itoa(s.cfg.MaxActiveJobsPerAccount))
	}
	return nil
}

// uploadActivity is how long an unfinished upload counts as in progress;
// after that it counts no more and expires with Config.UploadTTL.
const uploadActivity = time.Hour

// checkUploadLimit fails with TooLarge when the account already has as many
// uploads in progress as it may (checked, not reserved, like jobs).
func (s *Service) checkUploadLimit(ctx context.Context, accountID string) error {
	n, err := s.store.CountUploadsInProgress(ctx, accountID, time.Now().Add(-uploadActivity))
	if err != nil {
		return err
	}
	if n >= int64(s.cfg.MaxUploadsPerAccount) {
		return tooLargef("this account has %d uploads in progress, the most it may have; finish one (its last chunk has last set) or wait: unfinished uploads stop counting after %s", n, uploadActivity).because("TOO_MANY_UPLOADS", "limit", strconv.Itoa(s.cfg.MaxUploadsPerAccount))
	}
	return nil
}
