package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeBoundsSlowClients: a body sent at one byte per second is cut
// off by the read timeout, an idle keep-alive connection is closed by the
// idle timeout, and an oversized header block is refused.
func TestServeBoundsSlowClients(t *testing.T) {
	base, token := startServerAt(t, filepath.Join(t.TempDir(), "data"), "--read-timeout", "2s", "--idle-timeout", "1s", "--max-header-bytes", "8192")
	addr := strings.TrimPrefix(base, "http://")

	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const size = 30
		if _, err := io.WriteString(c, "POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		closed := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, c); close(closed) }()
		for sent := 0; sent < size; sent++ {
			select {
			case <-closed:
				return // cut off before the body was complete
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return // the server closed the connection
			}
		}
		t.Errorf("the server took a %d-byte body at one byte per second to the end", size)
	})

	t.Run("idle connection", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first request: %d close=%v, want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		// Bounded wait: far longer than the idle timeout of 1s.
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = br.ReadByte()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Error("the idle connection was still open after 20s (idle timeout 1s)")
		} else if err == nil {
			t.Error("the server sent bytes on an idle connection")
		}
	})

	t.Run("header too large", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/v1/apps", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Padding", strings.Repeat("a", 16<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
		}
	})
}
