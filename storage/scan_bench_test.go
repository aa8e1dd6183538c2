package storage

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkScanDecode decodes one profile as a segment scan does (scanDoc,
// then the domain profile): three sections, each with five attributes,
// three tags, two consents and twelve events. docs/cost-model.md section 8
// uses its time per profile.
//
//	go test -run '^$' -bench ScanDecode ./storage/
func BenchmarkScanDecode(b *testing.B) {
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var sections bson.A
	for s := range 3 {
		var events bson.A
		for e := range 12 {
			events = append(events, bson.D{{"type", "email_open"}, {"at", at.Add(time.Duration(e) * time.Hour)}, {"data", bson.D{{"campaign", fmt.Sprint("c", e)}}}})
		}
		sections = append(sections, bson.D{{"section_id", fmt.Sprint("s", s)},
			{"attributes", bson.D{{"first_name", "Ann"}, {"last_name", "Smith"}, {"score", int32(7)}, {"born", at}, {"vip", true}}},
			{"tags", bson.A{"newsletter", "vip", "2025"}},
			{"consents", bson.A{bson.D{{"channel", "email"}, {"topic", "news"}, {"status", "opt_in"}, {"at", at}}, bson.D{{"channel", "sms"}, {"topic", "offers"}, {"status", "opt_out"}, {"at", at}}}},
			{"events", events}})
	}
	raw, err := bson.Marshal(bson.D{{"_id", bson.NewObjectID()}, {"account_id", "acme"}, {"key", bson.D{{"type", "email"}, {"value", "ann@example.com"}}},
		{"email", "ann@example.com"}, {"sections", sections}, {"created_at", at}, {"updated_at", at}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var d scanDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			b.Fatal(err)
		}
		if p := d.profile(); len(p.Sections) != 3 || len(p.Sections[2].Events) != 12 {
			b.Fatalf("decoded %+v", p)
		}
	}
}
