package deletion

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

// Completion webhooks: when a job ends, its account's webhook (if it has
// one) gets a POST of the job's id, kind, action, state and counts — never
// an identifier. The ending is stored first (webhook_deliveries), so a
// delivery survives a crash and any instance makes it; a failed attempt
// (no answer, or not 2xx within 10 s) is retried with doubling waits, up to
// webhookAttempts times. Each POST is signed: X-Erasure-Signature is
// "sha256=" and the hex HMAC-SHA256, under the account's webhook secret, of
// X-Erasure-Timestamp, ".", and the body; receivers check it and refuse old
// timestamps. X-Erasure-Delivery is the job id: a receiver that sees it
// twice (an answer lost) drops the second.

// webhookAttempts bounds the attempts of one delivery.
const webhookAttempts = 12

// SetWebhook sets where the account's job endings are posted, and the
// secret (at least 32 bytes) that signs them; an empty url removes it.
func (s *Service) SetWebhook(ctx context.Context, accountID, rawURL string, secret []byte) error {
	if err := checkAccount(accountID); err != nil {
		return err
	}
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidf("the webhook URL must be an absolute http or https URL").because("INVALID_REQUEST")
		}
		if len(secret) < 32 {
			return invalidf("the webhook secret must be at least 32 bytes").because("INVALID_REQUEST")
		}
	}
	return s.store.SetAccountWebhook(ctx, accountID, rawURL, secret)
}

// Webhook returns the account's webhook URL, "" when it has none.
func (s *Service) Webhook(ctx context.Context, accountID string) (string, error) {
	u, _, err := s.store.AccountWebhook(ctx, accountID)
	return u, err
}

// webhookBody is what a delivery posts.
type webhookBody struct {
	JobID  string         `json:"job_id"`
	Kind   string         `json:"kind"`
	Action string         `json:"action"`
	State  string         `json:"state"`
	Error  string         `json:"error,omitempty"`
	Counts map[string]any `json:"counts"`
}

// queueDelivery stores the ending of job j for its account's webhook, if
// the account has one.
func (s *Service) queueDelivery(ctx context.Context, j *job.Job) error {
	u, _, err := s.store.AccountWebhook(ctx, j.AccountID)
	if err != nil || u == "" {
		return err
	}
	c := j.Counts
	body, err := json.Marshal(webhookBody{JobID: j.ID, Kind: j.Kind.String(), Action: j.Action.String(), State: j.State.String(), Error: j.Error,
		Counts: map[string]any{"total_rows": c.TotalRows, "rows": c.Rows, "valid": c.Valid, "invalid": c.Invalid, "duplicate": c.Duplicate,
			"matched": c.Matched, "not_found": c.NotFound, "deleted": c.Deleted, "unsubscribed": c.Unsubscribed,
			"already_unsubscribed": c.AlreadyUnsubscribed, "no_longer_matching": c.NoLongerMatching}})
	if err != nil {
		return err
	}
	return s.store.AddDelivery(ctx, &job.Delivery{JobID: j.ID, AccountID: j.AccountID, Body: body}, s.now())
}

// deliver posts due job endings until ctx ends, polling every
// Config.WebhookPoll.
func (s *Service) deliver(ctx context.Context) {
	client := &http.Client{Timeout: 10 * time.Second}
	t := time.NewTicker(s.cfg.WebhookPoll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			d, err := s.store.TakeDelivery(ctx, s.now(), 30*time.Second, webhookAttempts)
			if errors.Is(err, storage.ErrNotFound) {
				break
			}
			if err != nil {
				s.logger.WarnContext(ctx, "could not read webhook deliveries", "error", err)
				break
			}
			s.deliverOne(ctx, client, d)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) deliverOne(ctx context.Context, client *http.Client, d *job.Delivery) {
	err := s.post(ctx, client, d)
	if err == nil {
		if err := s.store.DeliveryDone(ctx, d.JobID, s.now()); err != nil {
			s.logger.WarnContext(ctx, "webhook delivered but not marked; it may be posted again", "job_id", d.JobID, "error", err)
		}
		s.logger.InfoContext(ctx, "webhook delivered", "job_id", d.JobID, "account_id", d.AccountID, "attempt", d.Attempts)
		return
	}
	wait := min(s.cfg.WebhookBackoff<<(d.Attempts-1), 10*time.Minute)
	s.logger.WarnContext(ctx, "webhook delivery failed", "job_id", d.JobID, "account_id", d.AccountID, "attempt", d.Attempts, "retry_in", wait.String(), "error", err)
	if err := s.store.DeliveryFailed(ctx, d.JobID, err.Error(), s.now().Add(wait)); err != nil {
		s.logger.WarnContext(ctx, "could not record a failed webhook delivery", "job_id", d.JobID, "error", err)
	}
}

// post makes one signed attempt.
func (s *Service) post(ctx context.Context, client *http.Client, d *job.Delivery) error {
	u, secret, err := s.store.AccountWebhook(ctx, d.AccountID)
	if err != nil {
		return err
	}
	if u == "" {
		return errors.New("the account has no webhook any more")
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "erasure-webhook/1")
	req.Header.Set("X-Erasure-Delivery", d.JobID)
	req.Header.Set("X-Erasure-Attempt", strconv.Itoa(d.Attempts))
	req.Header.Set("X-Erasure-Timestamp", ts)
	req.Header.Set("X-Erasure-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", res.Status)
	}
	return nil
}
