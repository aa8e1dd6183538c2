package tabular

import (
	"fmt"
	"strconv"
)

// fileErrorf builds a *FileError; row 0 means "not about one row".
func fileErrorf(row int64, format string, args ...any) *FileError {
	return &FileError{Row: row, Message: fmt.Sprintf(format, args...)}
}

// humanBytes renders a limit the way users read sizes ("64 KB", "512 MB").
// Binary units are shown with the familiar decimal names on purpose: users
// compare them with what their file manager shows, not with the exact limit.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GB"
	case n >= 1<<20:
		return strconv.FormatInt(n>>20, 10) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// groupDigits writes 1048576 as "1,048,576" for messages.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
