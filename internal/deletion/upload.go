package deletion

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

var allowedExtensions = []string{".csv", ".txt", ".tsv", ".xlsx"}

func (s *Service) checkUploadMetadata(accountID, filename string) error {
	if err := checkAccount(accountID); err != nil {
		return err
	}
	if strings.TrimSpace(filename) == "" {
		return invalidf("filename is required: give the file's name, such as delete.csv or delete.xlsx").because("FILENAME_REQUIRED").at("metadata.filename")
	}
	if len(filename) > 255 {
		return invalidf("filename is longer than 255 bytes; rename the file").because("FILENAME_TOO_LONG", "limit", "255").at("metadata.filename")
	}
	ext := strings.ToLower(filepath.Ext(filename))
	for _, a := range allowedExtensions {
		if ext == a {
			return nil
		}
	}
	return invalidf("%q is not a CSV or XLSX file name; save the file as .csv or .xlsx (old .xls workbooks are not read)", clip(filepath.Base(filename))).because("FILE_TYPE_NOT_SUPPORTED").at("metadata.filename")
}

func checkAccount(accountID string) error {
	if strings.TrimSpace(accountID) == "" {
		return invalidf("account_id is required").because("ACCOUNT_REQUIRED").at("account_id")
	}
	return nil
}

// CreateUpload starts a resumable upload.
func (s *Service) CreateUpload(ctx context.Context, accountID, filename string) (*job.Upload, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	if err := s.requireFeature(ctx, accountID, FileDeletion, Unsubscribing); err != nil {
		return nil, err
	}
	if err := s.checkUploadMetadata(accountID, filename); err != nil {
		return nil, err
	}
	if err := s.checkUploadLimit(ctx, accountID); err != nil {
		return nil, err
	}
	return s.store.CreateUpload(ctx, accountID, filename, time.Now().Add(s.cfg.UploadTTL))
}

// AppendUpload stores a chunk of a resumable upload (see
// storage.Store.AppendUpload for the offset rules).
func (s *Service) AppendUpload(ctx context.Context, accountID, uploadID string, offset int64, data []byte, last bool) (*job.Upload, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	s.cfg.Metrics.UploadBytes(len(data))
	u, err := s.store.AppendUpload(ctx, accountID, uploadID, offset, data, last, s.cfg.MaxUploadBytes)
	var oe *storage.OffsetError
	switch {
	case errors.As(err, &oe):
		return nil, preconditionf("offset %d does not continue the upload: %d bytes are stored, so send the chunk that starts at offset %d", offset, oe.Received, oe.Received).because("UPLOAD_OFFSET_MISMATCH", "received_bytes", strconv.FormatInt(oe.Received, 10)).at("offset")
	case errors.Is(err, storage.ErrTooLarge):
		return nil, s.tooLarge()
	case errors.Is(err, storage.ErrConflict):
		return nil, preconditionf("the upload changed during this request or is already complete; call GetUpload and continue from its received_bytes").because("UPLOAD_CHANGED")
	}
	return u, notFound(err, "upload", uploadID)
}

func (s *Service) tooLarge() error {
	return tooLargef("the file is larger than the %d MB limit; split it into smaller files and delete with each", s.cfg.MaxUploadBytes>>20).because("FILE_TOO_LARGE", "limit_bytes", strconv.FormatInt(s.cfg.MaxUploadBytes, 10))
}

// GetUpload returns an upload of the account.
func (s *Service) GetUpload(ctx context.Context, accountID, uploadID string) (*job.Upload, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	u, err := s.store.GetUpload(ctx, accountID, uploadID)
	if err != nil {
		return nil, s.uploadNotFound(ctx, accountID, uploadID, err)
	}
	if u.JobID != "" {
		// Its job deletes it when it ends; an ended job's upload is gone
		// for the caller even while the deletion is under way.
		if j, err := s.store.GetJob(ctx, accountID, u.JobID); err == nil && j.State.Terminal() {
			return nil, s.uploadNotFound(ctx, accountID, uploadID, storage.ErrNotFound)
		}
	}
	return u, nil
}

// uploadNotFound explains an upload the store does not have: when a job
// took it (the job deleted it when it ended), which job; otherwise err as
// NotFound.
func (s *Service) uploadNotFound(ctx context.Context, accountID, uploadID string, err error) error {
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	jobID, at, uerr := s.store.UploadUsedBy(ctx, accountID, uploadID)
	if uerr == nil {
		return preconditionf("upload %q was already used by job %s on %s and deleted with it; upload the file again to run another job",
			uploadID, jobID, at.UTC().Format(time.DateOnly)).because("UPLOAD_ALREADY_USED", "upload_id", uploadID, "job_id", jobID)
	}
	return notFound(err, "upload", uploadID)
}

// DeleteUpload discards an upload no running job reads (a wizard's
// Cancel): its bytes, and the personal data in them, go at once instead
// of after the upload's time to live.
func (s *Service) DeleteUpload(ctx context.Context, accountID, uploadID string) error {
	if err := checkAccount(accountID); err != nil {
		return err
	}
	u, err := s.store.GetUpload(ctx, accountID, uploadID)
	if err != nil {
		return s.uploadNotFound(ctx, accountID, uploadID, err)
	}
	if u.JobID != "" {
		j, err := s.store.GetJob(ctx, accountID, u.JobID)
		if err == nil && !j.State.Terminal() {
			return preconditionf("upload %q is being read by job %s; cancel the job (CancelJob) and the upload is deleted with it", uploadID, u.JobID).because("UPLOAD_IN_USE", "upload_id", uploadID, "job_id", u.JobID)
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	if err := s.store.DeleteUpload(ctx, accountID, uploadID); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "upload discarded", "upload_id", uploadID, "account_id", accountID)
	return nil
}

// UploadWriter receives a file sent as a stream. Write refuses bytes past the
// size limit as soon as they arrive.
type UploadWriter struct {
	s      *Service
	ctx    context.Context
	upload *job.Upload
	buf    []byte
	// flushed is how many bytes were handed to the store.
	flushed int64
}

// writerFlush is how many bytes a streamed upload buffers before storing
// them: a whole number of GridFS chunks, so no stored chunk is re-read.
const writerFlush = 4 * 255 * 1024

// NewUploadWriter starts a streamed upload.
func (s *Service) NewUploadWriter(ctx context.Context, accountID, filename string) (*UploadWriter, error) {
	u, err := s.CreateUpload(ctx, accountID, filename)
	if err != nil {
		return nil, err
	}
	return &UploadWriter{s: s, ctx: ctx, upload: u}, nil
}

// Write buffers p and stores full chunks.
func (w *UploadWriter) Write(p []byte) (int, error) {
	if w.flushed+int64(len(w.buf))+int64(len(p)) > w.s.cfg.MaxUploadBytes {
		return 0, w.s.tooLarge()
	}
	w.buf = append(w.buf, p...)
	for len(w.buf) >= writerFlush {
		if err := w.flush(w.buf[:writerFlush], false); err != nil {
			return 0, err
		}
		w.buf = append(w.buf[:0], w.buf[writerFlush:]...)
	}
	return len(p), nil
}

func (w *UploadWriter) flush(p []byte, last bool) error {
	u, err := w.s.AppendUpload(w.ctx, w.upload.AccountID, w.upload.ID, w.flushed, p, last)
	if err != nil {
		return err
	}
	w.upload = u
	w.flushed += int64(len(p))
	return nil
}

// Close stores the rest and completes the upload.
func (w *UploadWriter) Close() (*job.Upload, error) {
	if w.flushed+int64(len(w.buf)) == 0 {
		w.Abort()
		return nil, invalidf("the file is empty; send a file with a header row and one identifier per row").because("FILE_EMPTY")
	}
	if err := w.flush(w.buf, true); err != nil {
		return nil, err
	}
	return w.upload, nil
}

// Abort deletes what was stored of an upload that will not be completed.
func (w *UploadWriter) Abort() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	if err := w.s.store.DeleteUpload(ctx, w.upload.AccountID, w.upload.ID); err != nil {
		w.s.logger.Warn("could not delete an aborted upload; the sweeper will", "upload_id", w.upload.ID, "error", err)
	}
}
