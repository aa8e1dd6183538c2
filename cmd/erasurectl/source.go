package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// chunkSize is the bytes per upload message (the service takes up to 4 MiB).
const chunkSize = 1 << 20

// fileSource uploads the file and says which column to read: the one
// given, or the one the service suggests for the type, which the preview
// then names. Without a person to read the preview (--yes), the column
// must be given.
func (c *cli) fileSource(ctx context.Context, r *request, t erasurev1.IdentifierType) (*erasurev1.FileSource, string, error) {
	if r.column == "" && r.columnNumber == 0 && r.yes {
		return nil, "", usagef("with --yes, name the column: --column NAME or --column-number N (without it the column is only suggested, for a person to check)")
	}
	header, _ := headerMode(r.header)
	opts := &erasurev1.FileOptions{Sheet: r.sheet, Header: header}
	up, err := c.upload(ctx, r.file)
	if err != nil {
		return nil, "", err
	}
	src := &erasurev1.FileSource{UploadId: up.GetUploadId(), Options: opts}
	what := filepath.Base(r.file)
	switch {
	case r.column != "":
		src.Column = &erasurev1.FileSource_ColumnName{ColumnName: r.column}
		what += fmt.Sprintf(", column %q", r.column)
	case r.columnNumber != 0:
		src.Column = &erasurev1.FileSource_ColumnNumber{ColumnNumber: r.columnNumber}
		what += fmt.Sprintf(", column %d", r.columnNumber)
	default:
		in, err := c.svc.InspectUpload(ctx, &erasurev1.InspectUploadRequest{AccountId: c.account, UploadId: up.GetUploadId(), Options: opts})
		if err != nil {
			c.discardUpload(ctx, up.GetUploadId())
			return nil, "", err
		}
		col, ok := suggested(in, t)
		if !ok {
			c.discardUpload(ctx, up.GetUploadId())
			return nil, "", usagef("no column of %s looks like the --type given; name it with --column NAME or --column-number N (the columns: %s)", filepath.Base(r.file), columnNames(in))
		}
		src.Column = &erasurev1.FileSource_ColumnNumber{ColumnNumber: col.GetNumber()}
		what += fmt.Sprintf(", column %d %q (suggested: no --column was given)", col.GetNumber(), col.GetName())
	}
	if r.sheet != "" {
		what += fmt.Sprintf(", sheet %q", r.sheet)
	}
	return src, what, nil
}

func suggested(in *erasurev1.InspectUploadResponse, t erasurev1.IdentifierType) (*erasurev1.Column, bool) {
	for _, s := range in.GetSuggestions() {
		if s.GetIdentifierType() != t {
			continue
		}
		for _, col := range in.GetColumns() {
			if col.GetNumber() == s.GetColumnNumber() {
				return col, true
			}
		}
	}
	return nil, false
}

// columnNames lists a file's columns by number and header name, never by
// a sample value (those are identifiers).
func columnNames(in *erasurev1.InspectUploadResponse) string {
	var names []string
	for _, col := range in.GetColumns() {
		if col.GetName() != "" {
			names = append(names, fmt.Sprintf("%d %q", col.GetNumber(), col.GetName()))
		} else {
			names = append(names, fmt.Sprint(col.GetNumber()))
		}
	}
	return strings.Join(names, ", ")
}

// discardUpload deletes an upload no job took, with the personal data in
// it, at once rather than after its time to live.
func (c *cli) discardUpload(ctx context.Context, id string) {
	c.svc.DeleteUpload(context.WithoutCancel(ctx), &erasurev1.DeleteUploadRequest{AccountId: c.account, UploadId: id})
}

// upload sends a file with UploadFile, showing the bytes sent on a terminal.
func (c *cli) upload(ctx context.Context, path string) (*erasurev1.Upload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, usagef("%s is a directory: give a CSV or XLSX file", path)
	}
	stream, err := c.svc.UploadFile(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{
		Metadata: &erasurev1.UploadMetadata{AccountId: c.account, Filename: filepath.Base(path)},
	}}); err != nil {
		_, err = stream.CloseAndRecv()
		return nil, err
	}
	bar := c.newBytesBar(info.Size(), "uploading")
	buf := make([]byte, chunkSize)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if serr := stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: buf[:n]}}); serr != nil {
				bar.stop()
				// The server's reason (a file too large) comes with the close.
				_, err := stream.CloseAndRecv()
				if err == nil {
					err = serr
				}
				return nil, err
			}
			bar.add(int64(n))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			bar.stop()
			stream.CloseSend()
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	bar.stop()
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return resp.GetUpload(), nil
}

// readValues reads --value or the --list file, one value per line; empty
// lines are kept (as rows they are reported invalid, so the row numbers
// stay the line numbers).
func (r *request) readValues(stdin io.Reader) ([]string, error) {
	if len(r.values) > 0 {
		return r.values, nil
	}
	in := stdin
	if r.list != "-" {
		f, err := os.Open(r.list)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		in = f
	}
	var values []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		values = append(values, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", r.list, err)
	}
	// A final newline does not make an empty last row.
	for len(values) > 0 && values[len(values)-1] == "" {
		values = values[:len(values)-1]
	}
	if len(values) == 0 {
		return nil, usagef("%s holds no values: one identifier per line", r.list)
	}
	return values, nil
}

// preview runs StartPreview and follows it to its summary, re-attaching
// with WatchPreview when the stream breaks. Ctrl-C (ctx) stops it.
func (c *cli) preview(ctx context.Context, req *erasurev1.StartPreviewRequest) (*erasurev1.PreviewStatus, error) {
	stream, err := c.svc.StartPreview(ctx, req)
	if err != nil {
		return nil, err
	}
	bar := c.newCountBar("previewing: rows read")
	defer bar.stop()
	var id string
	recv := func() (*erasurev1.PreviewStatus, error) {
		m, err := stream.Recv()
		return m.GetStatus(), err
	}
	for attempt := 0; ; {
		st, err := recv()
		if err == nil {
			id = st.GetPreviewId()
			bar.set(st.GetRowsRead())
			switch st.GetState() {
			case erasurev1.PreviewState_PREVIEW_STATE_SUCCEEDED:
				return st, nil
			case erasurev1.PreviewState_PREVIEW_STATE_RUNNING:
				continue
			default:
				return nil, fmt.Errorf("the preview ended %s: %s", strings.TrimPrefix(st.GetState().String(), "PREVIEW_STATE_"), st.GetError())
			}
		}
		if ctx.Err() != nil {
			if id != "" {
				c.svc.CancelPreview(context.WithoutCancel(ctx), &erasurev1.CancelPreviewRequest{AccountId: c.account, PreviewId: id})
			}
			return nil, &exitStatus{code: exitDeclined, msg: "Interrupted: the preview was stopped and nothing was changed."}
		}
		if id == "" || !retryable(err) || attempt >= maxReattach {
			return nil, err
		}
		attempt++
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
		ws, werr := c.svc.WatchPreview(ctx, &erasurev1.WatchPreviewRequest{AccountId: c.account, PreviewId: id})
		if werr != nil {
			continue
		}
		recv = func() (*erasurev1.PreviewStatus, error) {
			m, err := ws.Recv()
			return m.GetStatus(), err
		}
	}
}
