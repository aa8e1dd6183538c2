package server

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
)

// UploadFile implements erasure.v1.ErasureService.UploadFile.
func (s *Server) UploadFile(ctx context.Context, stream *connect.ClientStream[erasurev1.UploadFileRequest]) (*connect.Response[erasurev1.UploadFileResponse], error) {
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, s.toStatus(ctx, err)
		}
		return nil, invalid("the stream is empty: send a message with metadata first, then the file's bytes in chunk messages", "metadata")
	}
	md := stream.Msg().GetMetadata()
	if md == nil {
		return nil, invalid("the first message must carry metadata (account_id and filename); the file's bytes follow in chunk messages", "metadata")
	}
	by, err := authorize(ctx, md.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	w, err := s.svc.NewUploadWriter(ctx, by.AccountID, md.GetFilename())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	for stream.Receive() {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return nil, s.toStatus(ctx, err)
		}
		msg := stream.Msg()
		if msg.GetMetadata() != nil {
			w.Abort()
			return nil, invalid("metadata may only be sent in the first message; send the file's bytes in chunk messages", "metadata")
		}
		if _, err := w.Write(msg.GetChunk()); err != nil {
			w.Abort()
			return nil, s.toStatus(ctx, err)
		}
	}
	if err := stream.Err(); err != nil && !errors.Is(err, io.EOF) {
		w.Abort()
		return nil, s.toStatus(ctx, err)
	}
	u, err := w.Close()
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.UploadFileResponse{Upload: uploadProto(u)}), nil
}

// CreateUpload implements erasure.v1.ErasureService.CreateUpload.
func (s *Server) CreateUpload(ctx context.Context, req *connect.Request[erasurev1.CreateUploadRequest]) (*connect.Response[erasurev1.CreateUploadResponse], error) {
	md := req.Msg.GetMetadata()
	by, err := authorize(ctx, md.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.CreateUpload(ctx, by.AccountID, md.GetFilename())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.CreateUploadResponse{Upload: uploadProto(u)}), nil
}

// UploadChunk implements erasure.v1.ErasureService.UploadChunk.
func (s *Server) UploadChunk(ctx context.Context, req *connect.Request[erasurev1.UploadChunkRequest]) (*connect.Response[erasurev1.UploadChunkResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.AppendUpload(ctx, by.AccountID, m.GetUploadId(), m.GetOffset(), m.GetData(), m.GetLast())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.UploadChunkResponse{Upload: uploadProto(u)}), nil
}

// DeleteUpload implements erasure.v1.ErasureService.DeleteUpload.
func (s *Server) DeleteUpload(ctx context.Context, req *connect.Request[erasurev1.DeleteUploadRequest]) (*connect.Response[erasurev1.DeleteUploadResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteUpload(ctx, by.AccountID, req.Msg.GetUploadId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.DeleteUploadResponse{}), nil
}

// GetUpload implements erasure.v1.ErasureService.GetUpload.
func (s *Server) GetUpload(ctx context.Context, req *connect.Request[erasurev1.GetUploadRequest]) (*connect.Response[erasurev1.GetUploadResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return nil, err
	}
	u, err := s.svc.GetUpload(ctx, by.AccountID, req.Msg.GetUploadId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.GetUploadResponse{Upload: uploadProto(u)}), nil
}
