package server

import (
	"context"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
)

// InspectUpload implements erasure.v1.ErasureService.InspectUpload.
func (s *Server) InspectUpload(ctx context.Context, req *connect.Request[erasurev1.InspectUploadRequest]) (*connect.Response[erasurev1.InspectUploadResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	in, err := s.svc.Inspect(ctx, by.AccountID, m.GetUploadId(), fileOptions(m.GetOptions()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	res := &erasurev1.InspectUploadResponse{
		Format:    formats[in.Format],
		Sheets:    in.Sheets,
		Sheet:     in.Sheet,
		Encoding:  in.Encoding,
		HasHeader: in.HasHeader,
	}
	if in.Delimiter != 0 {
		res.Delimiter = string(in.Delimiter)
	}
	for _, c := range in.Columns {
		res.Columns = append(res.Columns, &erasurev1.Column{
			Number:  int32(c.Number),
			Letter:  c.Letter,
			Name:    c.Name,
			Samples: c.Samples,
		})
	}
	for _, sg := range in.Suggestions {
		res.Suggestions = append(res.Suggestions, &erasurev1.ColumnSuggestion{
			IdentifierType: identifierTypes[sg.Type],
			ColumnNumber:   int32(sg.ColumnNumber),
			ValidSamples:   int32(sg.ValidSamples),
			Samples:        int32(sg.Samples),
		})
	}
	return connect.NewResponse(res), nil
}

// PreviewDeletion implements erasure.v1.ErasureService.PreviewDeletion.
func (s *Server) PreviewDeletion(ctx context.Context, req *connect.Request[erasurev1.PreviewDeletionRequest]) (*connect.Response[erasurev1.PreviewDeletionResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBulk)
	if err != nil {
		return nil, err
	}
	p, err := s.preview(ctx, by, m.GetSource(), m.GetValues(), m.GetSpec(), deletion.Delete)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(previewDeletionProto(p)), nil
}

// preview previews a file or a list, whichever the request gives.
func (s *Server) preview(ctx context.Context, by deletion.Caller, src *erasurev1.FileSource, values []string, sp *erasurev1.DeletionSpec, task deletion.Task) (*deletion.Preview, error) {
	var p *deletion.Preview
	var err error
	switch {
	case src != nil && len(values) > 0:
		return nil, invalid("give source (a file) or values (a list), not both", "values")
	case len(values) > 0:
		p, err = s.svc.PreviewList(ctx, by, values, spec(sp), task)
	default:
		p, err = s.svc.Preview(ctx, by, fileSource(src), spec(sp), task)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return p, nil
}
