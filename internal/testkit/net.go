package testkit

import (
	"net"
	"testing"
)

// FreeAddr returns a local address nobody listens on, for a server a test
// starts in another process.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
