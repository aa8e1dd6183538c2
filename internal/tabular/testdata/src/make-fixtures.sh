#!/bin/sh
# Regenerates the fixtures in tabular/testdata. Run from tabular/testdata:
#   sh src/make-fixtures.sh
# CSV fixtures are written byte for byte with printf and iconv, imitating
# what spreadsheet programs write; XLSX fixtures are converted from the
# sources in src/ by LibreOffice (soffice --headless --convert-to xlsx).
set -eu
cd "$(dirname "$0")/.."

# Plain UTF-8, LF endings, non-ASCII text.
printf 'email,name,phone\nanna@example.com,Anna Åberg,46701234567\nzoe@example.com,Zoë 日本,+46 70 123 45 67\n' > utf8.csv

# Excel "CSV UTF-8 (Comma delimited)": UTF-8 BOM and CRLF endings.
printf '\357\273\277email,name\r\nanna@example.com,Anna Åberg\r\nbo@example.com,Bö\r\n' > utf8_bom.csv

# Excel "Unicode Text": UTF-16LE with BOM, tab-delimited, CRLF.
printf 'email\tname\r\nanna@example.com\tAnna Åberg\r\nbo@example.com\t"Bo, ""the"" boss"\r\n' \
  | iconv -f UTF-8 -t UTF-16LE > utf16le_tab.body
{ printf '\377\376'; cat utf16le_tab.body; } > utf16le_tab.txt
rm utf16le_tab.body

# UTF-16BE with BOM, comma-delimited.
printf '\376\377' > utf16be.csv
printf 'email,name\nanna@example.com,Ånna\n' | iconv -f UTF-8 -t UTF-16BE >> utf16be.csv

# Windows-1252 ("CSV (Comma delimited)" from Excel on Western Windows): é, ü, €, curly apostrophe.
printf 'email,name,note\r\nrene@example.com,René Müller,costs 5 €\r\nobrien@example.com,Seán O’Brien,ok\r\n' \
  | iconv -f UTF-8 -t WINDOWS-1252 > cp1252.csv

# European Excel: semicolon delimiter, decimal commas.
printf 'email;name;amount\r\nanna@example.com;Anna;1,5\r\nbo@example.com;Bo;2,25\r\ncarl@example.com;"Carl; Jr.";3\r\n' > semicolon.csv

# Pipe-delimited export.
printf 'email|name\nanna@example.com|Anna\nbo@example.com|Bo, Jr.\n' > pipe.csv

# Tab-delimited text with commas inside cells.
printf 'email\tname\nanna@example.com\tÅberg, Anna\nbo@example.com\tBo\n' > tab.tsv

# RFC 4180 quoting: delimiters, line breaks and quotes inside cells, CRLF.
printf 'email,comment\r\n"anna@example.com","said ""hi"", then left"\r\nbo@example.com,"line one\r\nline two"\r\n"carl@example.com",""\r\n' > quoted.csv

# Old Mac (CR only) line endings.
printf 'email,name\ranna@example.com,Anna\rbo@example.com,Bo\r' > cr_only.csv

# Blank lines, an Excel empty row (,,) and mixed LF / CRLF endings.
printf '\nemail,name\r\n\r\nanna@example.com,Anna\n,\n\nbo@example.com,Bo\r\n\n' > blank_lines.csv

# Ragged rows (Excel omits nothing, but hand-edited files do).
printf 'email,name,phone\nanna@example.com\nbo@example.com,Bo,070,extra\n\ncarl@example.com,Carl\n' > ragged.csv

# Excel's "sep=" directive on the first line.
printf 'sep=;\r\nemail;name\r\nanna@example.com;Anna, A.\r\n' > sep_directive.csv

# Error: a quote that is never closed.
printf 'email,name\nanna@example.com,Anna\nbo@example.com,"Bo\ncarl@example.com,Carl\n' > unclosed_quote.csv
# A quote inside an unquoted cell: text, as spreadsheet programs read it.
printf 'email,name\nanna@example.com,Anna\nbo@example.com,Bo "the boss"\n' > bare_quote.csv

# XLSX written by LibreOffice Calc.
soffice --headless --convert-to xlsx --outdir . src/numbers.fods src/sheets.fods
soffice --headless --convert-to xlsx --infilter="CSV:44,34,76,1" --outdir . src/list.csv
# The same workbook as OpenDocument, to check that .ods gets a helpful error.
soffice --headless --convert-to ods --outdir . src/sheets.fods
