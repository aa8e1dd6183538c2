package tabular

import "testing"

// RowsAtMost is never below the rows a sheet has, and close to them: it
// sizes what a reader keeps per row.
func TestRowsAtMost(t *testing.T) {
	for _, name := range []string{"utf8.csv", "utf8_bom.csv", "cr_only.csv", "quoted.csv", "blank_lines.csv", "utf16be.csv", "utf16le_tab.txt", "list.xlsx", "sheets.xlsx", "numbers.xlsx"} {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			all, err := readSheet(t, data, name, "", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := openBytes(t, data, name, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var last int64
			if len(all) > 0 {
				last = all[len(all)-1].Number
			}
			if got := f.RowsAtMost(""); got < last || got > last+2 {
				t.Errorf("RowsAtMost = %d; the sheet's last row is %d", got, last)
			}
		})
	}
	for _, c := range []struct {
		text string
		want int64
	}{{"a\nb\nc", 3}, {"a\r\nb\r\n", 3}, {"a\rb\rc\r", 4}, {"\"x\ny\"\nb\n", 4}} {
		f, err := openBytes(t, []byte(c.text), "f.csv", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.RowsAtMost(""); got != c.want {
			t.Errorf("%q: RowsAtMost = %d, want %d", c.text, got, c.want)
		}
		f.Close()
	}
}
