package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/server"
)

// A message over the 8 MiB limit is refused with RESOURCE_EXHAUSTED and
// advice to send the file in chunks of at most 4 MiB, over every protocol
// and for both ways to upload; the advice, followed, works.
func TestMessageOverLimitGetsAdvice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	file := addressesCSV(server.MaxMessageBytes + 1<<20)
	tok := e.token(t, "acme", auth.Owner)
	connectClient := func(opts ...connect.ClientOption) erasurev1connect.ErasureServiceClient {
		return erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(tok)}, e.baseURL, opts...)
	}
	createUpload := func(t *testing.T) string {
		t.Helper()
		res, err := e.connect.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{Filename: "big.csv"}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetUpload().GetUploadId()
	}
	metadata := &erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{Metadata: &erasurev1.UploadMetadata{Filename: "big.csv"}}}
	chunk := &erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: file}}
	grpcUploadFile := func(t *testing.T, opts ...grpc.CallOption) error {
		stream, err := e.grpc.UploadFile(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		_ = stream.Send(metadata)
		_ = stream.Send(chunk) // io.EOF once the server has answered; CloseAndRecv says why
		_, err = stream.CloseAndRecv()
		return err
	}
	connectUploadChunk := func(c erasurev1connect.ErasureServiceClient) func(t *testing.T) error {
		return func(t *testing.T) error {
			_, err := c.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{UploadId: createUpload(t), Data: file}))
			return err
		}
	}
	const advice = `over the limit of 8 MiB for one message: send the file in %s of at most 4 MiB %s; see "Uploading a large file" in README.md for a grpcurl recipe`
	uploadFileAdvice := fmt.Sprintf(advice, "chunk messages", "each")
	uploadChunkAdvice := fmt.Sprintf(advice, "UploadChunk calls", "of data each")
	chunkSize := proto.Size(&erasurev1.UploadChunkRequest{UploadId: "0123456789abcdef01234567", Data: file})
	for _, c := range []struct {
		name string
		call func(t *testing.T) error
		// want is the message, %d standing for the size of the refused
		// message: size, or any number when size is 0.
		want string
		size int
	}{
		{"UploadFile over gRPC", func(t *testing.T) error { return grpcUploadFile(t) },
			"this message has %d bytes, " + uploadFileAdvice, proto.Size(chunk)},
		{"UploadFile over Connect", func(t *testing.T) error {
			stream := e.connect.UploadFile(ctx)
			_ = stream.Send(metadata)
			_ = stream.Send(chunk)
			_, err := stream.CloseAndReceive()
			return err
		}, "this message has %d bytes, " + uploadFileAdvice, proto.Size(chunk)},
		// A gzipped message under the limit that inflates past it: its size
		// is not told.
		{"UploadFile over gRPC, gzipped", func(t *testing.T) error { return grpcUploadFile(t, grpc.UseCompressor(gzip.Name)) },
			"a message " + uploadFileAdvice, 0},
		{"UploadChunk over gRPC", func(t *testing.T) error {
			_, err := e.grpc.UploadChunk(ctx, &erasurev1.UploadChunkRequest{UploadId: createUpload(t), Data: file})
			return err
		}, "this message has %d bytes, " + uploadChunkAdvice, chunkSize},
		{"UploadChunk over Connect", connectUploadChunk(e.connect), "this message has %d bytes, " + uploadChunkAdvice, chunkSize},
		{"UploadChunk over gRPC-Web", connectUploadChunk(connectClient(connect.WithGRPCWeb())), "this message has %d bytes, " + uploadChunkAdvice, chunkSize},
		{"UploadChunk over gRPC, gzipped", func(t *testing.T) error {
			_, err := e.grpc.UploadChunk(ctx, &erasurev1.UploadChunkRequest{UploadId: createUpload(t), Data: file}, grpc.UseCompressor(gzip.Name))
			return err
		}, "a message " + uploadChunkAdvice, 0},
		{"UploadChunk over Connect, gzipped", connectUploadChunk(connectClient(connect.WithSendGzip())), "a message " + uploadChunkAdvice, 0},
		// As Connect-Web sends it by default: the bytes in base64.
		{"UploadChunk over Connect with JSON", connectUploadChunk(connectClient(connect.WithProtoJSON())), "this message has %d bytes, " + uploadChunkAdvice, 0},
		{"another call", func(t *testing.T) error {
			return streamErr(e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{string(file)}})))
		}, "this message has %d bytes, over the limit of 8 MiB for one message: split the request into smaller ones", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(t)
			var code connect.Code
			var msg string
			var ce *connect.Error
			if st, ok := status.FromError(err); ok && st.Code() != 0 {
				code, msg = connect.Code(st.Code()), st.Message()
			} else if errors.As(err, &ce) {
				code, msg = ce.Code(), ce.Message()
			}
			want := regexp.QuoteMeta(c.want)
			if strings.Contains(c.want, "%d") {
				size := `\d{7,}`
				if c.size != 0 {
					size = strconv.Itoa(c.size)
				}
				want = strings.Replace(want, "%d", size, 1)
			}
			if err == nil || code != connect.CodeResourceExhausted || !regexp.MustCompile("^"+want+"$").MatchString(msg) {
				t.Fatalf("got %v\nwant resource_exhausted: %s", err, c.want)
			}
			if strings.Contains(msg, "example.org") {
				t.Fatalf("the refusal echoes the file: %.200s", msg)
			}
		})
	}

	// Following the advice: 4 MiB chunks fit even as base64 in JSON.
	id := createUpload(t)
	jsonClient := connectClient(connect.WithProtoJSON())
	for off := 0; off < len(file); off += server.MaxChunkBytes {
		end := min(off+server.MaxChunkBytes, len(file))
		res, err := jsonClient.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{UploadId: id, Offset: int64(off), Data: file[off:end], Last: end == len(file)}))
		if err != nil {
			t.Fatalf("chunk at %d: %v", off, err)
		}
		if up := res.Msg.GetUpload(); end == len(file) && (!up.GetComplete() || up.GetReceivedBytes() != int64(len(file))) {
			t.Fatalf("after the last chunk: %v", up)
		}
	}
	// And gzipped, each message counted on its own.
	stream, err := e.grpc.UploadFile(ctx, grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(metadata); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(file); off += server.MaxChunkBytes {
		if err := stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: file[off:min(off+server.MaxChunkBytes, len(file))]}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil || res.GetUpload().GetReceivedBytes() != int64(len(file)) {
		t.Fatalf("gzipped upload in 4 MiB chunks: %v, %v", res, err)
	}
}

// addressesCSV returns a CSV of made-up e-mail addresses of at least n bytes.
func addressesCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Email\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "user%07d@example.org\n", i)
	}
	return b.Bytes()[:n]
}
