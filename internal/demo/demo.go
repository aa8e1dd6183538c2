// Package demo fills an empty account with made-up profiles, so that the
// README's walk-through and the sample files in examples/ work on a fresh
// embedded store. The data is deterministic: profile n always has the same
// identifiers.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// Account is the demo account's id.
const Account = "demo"

// Profile returns demo profile n (n ≥ 1). Most are keyed by e-mail
// (personNNNN@example.com), some by phone (+4670NNNNNNN) and some by CRM ID
// (CRM-NNNNNN). Every profile keyed by CRM ID also carries an e-mail
// attribute: for n ending in 19, 39, … the address of e-mail profile n-9
// (the help-centre example: two profiles share an address but not their
// identifier type), otherwise customerNNNN@example.com, which no profile has
// as its key. Each section has an e-mail consent to a topic named after the
// section (opted out for n ending in 5); profiles keyed by phone also have
// an SMS consent to "offers" in their first section.
//
// For the help article's two segment use cases: every 50th profile is an
// internal test address, tagged internal_test in its newsletter section;
// and e-mail clicks are spread so that "no click in the last 36 months"
// matches some profiles and not others: profiles with n%4 == 0 clicked in
// 2025, with n%4 == 1 in 2021, the others never.
func Profile(account string, n int) profile.Profile {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	p := profile.Profile{AccountID: account, CreatedAt: t, UpdatedAt: t}
	switch n % 10 {
	case 7, 8:
		p.Key = profile.Key{Type: identifier.Phone, Value: fmt.Sprintf("+4670%07d", n)}
		p.Phone = p.Key.Value
	case 9:
		p.Key = profile.Key{Type: identifier.CRMID, Value: fmt.Sprintf("CRM-%06d", n)}
		p.CRMID = p.Key.Value
		if n%20 == 19 {
			p.Email = fmt.Sprintf("person%04d@example.com", n-9)
		} else {
			p.Email = fmt.Sprintf("customer%04d@example.com", n)
		}
	default:
		p.Key = profile.Key{Type: identifier.Email, Value: fmt.Sprintf("person%04d@example.com", n)}
		p.Email = p.Key.Value
	}
	p.Sections = append(p.Sections, section("newsletter", n, t))
	if n%2 == 0 {
		p.Sections = append(p.Sections, section("shop", n, t))
	}
	if n%3 == 0 {
		p.Sections = append(p.Sections, section("events", n, t))
	}
	news := &p.Sections[0]
	switch n % 4 {
	case 0:
		news.Events = append(news.Events, profile.Event{Type: "email_click", At: t.AddDate(0, 6, 0), Data: map[string]any{"campaign": "newsletter"}})
	case 1:
		news.Events = append(news.Events, profile.Event{Type: "email_click", At: t.AddDate(-4, 0, 0), Data: map[string]any{"campaign": "newsletter"}})
	}
	if n%50 == 0 {
		news.Tags = append(news.Tags, "internal_test")
	}
	if p.Key.Type == identifier.Phone {
		c := &p.Sections[0].Consents
		*c = append(*c, profile.Consent{Channel: "sms", Topic: "offers", Status: profile.OptIn, At: t})
	}
	return p
}

func section(id string, n int, t time.Time) profile.Section {
	return profile.Section{
		SectionID:  id,
		Attributes: map[string]any{"first_name": fmt.Sprintf("Person %d", n), "score": n % 100},
		Tags:       []string{"demo", id},
		Consents:   []profile.Consent{{Channel: "email", Topic: id, Status: consentStatus(n), At: t}},
		Events:     []profile.Event{{Type: "email_open", At: t.Add(time.Hour), Data: map[string]any{"campaign": id}}},
	}
}

// consentStatus is the status of profile n's e-mail consents: opted out for
// n ending in 5 (they unsubscribed earlier), opted in otherwise.
func consentStatus(n int) string {
	if n%10 == 5 {
		return profile.OptOut
	}
	return profile.OptIn
}

// Seed inserts profiles 1..n into the account when it has no profiles, and
// reports how many it inserted (0 when the account already had some).
func Seed(ctx context.Context, store *storage.Store, account string, n int) (int, error) {
	have, err := store.CountProfiles(ctx, account)
	if err != nil {
		return 0, err
	}
	if have > 0 || n <= 0 {
		return 0, nil
	}
	const batch = 1000
	for start := 1; start <= n; start += batch {
		var ps []profile.Profile
		for i := start; i < start+batch && i <= n; i++ {
			ps = append(ps, Profile(account, i))
		}
		if err := store.InsertProfiles(ctx, ps); err != nil {
			return 0, fmt.Errorf("seed demo profiles: %w", err)
		}
	}
	return n, nil
}
