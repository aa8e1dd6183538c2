package server

import (
	"context"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
)

// GetJobReport implements erasure.v1.ErasureService.GetJobReport.
func (s *Server) GetJobReport(ctx context.Context, req *connect.Request[erasurev1.GetJobReportRequest]) (*connect.Response[erasurev1.GetJobReportResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Report(ctx, by, req.Msg.GetJobId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(reportProto(r)), nil
}

// DownloadReport implements erasure.v1.ErasureService.DownloadReport.
func (s *Server) DownloadReport(ctx context.Context, req *connect.Request[erasurev1.DownloadReportRequest], stream *connect.ServerStream[erasurev1.DownloadReportResponse]) error {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return err
	}
	f, err := s.svc.ReportFile(ctx, by, req.Msg.GetJobId())
	if err != nil {
		return s.toStatus(ctx, err)
	}
	w := &chunkWriter{send: func(data []byte, first bool) error {
		msg := &erasurev1.DownloadReportResponse{Data: data}
		if first {
			msg.Filename, msg.ContentType = f.Filename, deletion.ReportContentType
		}
		return stream.Send(msg)
	}}
	if err := f.WriteCSV(ctx, w); err != nil {
		return s.toStatus(ctx, err)
	}
	return s.toStatus(ctx, w.close())
}

// reportChunk is the data of every DownloadReport message but the last. A
// multiple of 3: the base64 of each message's data (grpcurl's JSON) then
// has no padding, and the pieces joined decode to the file at once.
const reportChunk = 3 << 16

// chunkWriter sends what is written to it as the messages of a file
// download, of reportChunk bytes each; first is set for the first, which
// carries the file's name and type.
type chunkWriter struct {
	buf  []byte
	sent bool
	send func(data []byte, first bool) error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.buf == nil {
			c.buf = make([]byte, 0, reportChunk)
		}
		k := min(reportChunk-len(c.buf), len(p))
		c.buf, p = append(c.buf, p[:k]...), p[k:]
		if len(c.buf) == reportChunk {
			if err := c.flush(); err != nil {
				return n - len(p) - k, err
			}
		}
	}
	return n, nil
}

func (c *chunkWriter) flush() error {
	data, first := c.buf, !c.sent
	c.buf, c.sent = nil, true
	return c.send(data, first)
}

// close sends the bytes left, and the first message if nothing was sent.
func (c *chunkWriter) close() error {
	if len(c.buf) == 0 && c.sent {
		return nil
	}
	return c.flush()
}
