package deletion_test

import (
	"context"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
)

// A headerless file asked for a column by name has its first row read as
// column names; that row is data, and an error names its columns by number
// only. A real header is quoted, to catch a misspelt name.
func TestColumnErrorsNeverQuoteData(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, deletion.Config{})
	by := deletion.Caller{AccountID: "acme"}
	for _, tc := range []struct {
		name, file string
		header     job.HeaderMode
		spec       deletion.Spec
		want       string
		never      []string
	}{
		{name: "CRM IDs and names", file: "C-1001,Alice Smith\nC-1002,Bob Jones\n", spec: deletion.Spec{Type: identifier.CRMID},
			want: `column "CRM ID" not found; the file has: 1 (A), 2 (B)`, never: []string{"C-1001", "Alice"}},
		{name: "names and phone numbers", file: "Alice Smith;0701234567\nBob Jones;0707654321\n", spec: deletion.Spec{Type: identifier.Phone, DefaultRegion: "SE"},
			want: `the file has: 1 (A), 2 (B)`, never: []string{"Alice", "0701234567"}},
		{name: "a real header", file: "Name,E-mail\nAlice,alice@example.com\n", spec: deletion.Spec{Type: identifier.Email},
			want: `the file has: 1 "Name", 2 "E-mail"`},
		{name: "a header declared by the caller", file: "Kund 1,Kund 2\nC-1,C-2\n", header: job.HeaderPresent, spec: deletion.Spec{Type: identifier.CRMID},
			want: `the file has: 1 "Kund 1", 2 "Kund 2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := upload(t, svc, "people.csv", []byte(tc.file))
			src := deletion.FileSource{UploadID: id, ColumnName: "CRM ID", Options: deletion.FileOptions{Header: tc.header}}
			_, err := svc.Preview(context.Background(), by, src, tc.spec, deletion.Delete)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Preview: %v, want %q", err, tc.want)
			}
			for _, data := range tc.never {
				if strings.Contains(err.Error(), data) {
					t.Errorf("the error quotes the data %q: %v", data, err)
				}
			}
		})
	}
}
