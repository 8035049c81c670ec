package h2client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxRequestBody bounds a request body RoundTrip reads into memory.
const maxRequestBody = 4 << 20

var _ http.RoundTripper = (*Client)(nil)

// RoundTrip implements http.RoundTripper for libraries that take an
// *http.Client (firebase messaging): it sends r through Do and returns
// the buffered response. Only https requests to the Client's own origin
// are sent; any other URL is refused without a connection, so a
// library cannot be steered elsewhere. Header fields are indexed in the
// HPACK table (a library's requests repeat them); hop-by-hop fields are
// dropped; fields with invalid names or values fail the request. The
// request body is read whole (at most 4 MiB) and closed.
func (c *Client) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if r.URL == nil || r.URL.Scheme != "https" || (r.URL.Host != c.authority && r.URL.Host != c.cfg.Addr) {
		return nil, fmt.Errorf("h2client: %s is not this client's origin https://%s", redactURL(r), c.authority)
	}
	req := &Request{Method: r.Method, Path: r.URL.RequestURI()}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		switch lower {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade", "host", "te", "content-length":
			continue
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("h2client: invalid header field name %q", name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("h2client: invalid value for header field %q", name)
			}
			req.Header = append(req.Header, Field{Name: lower, Value: v})
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			return nil, fmt.Errorf("h2client: read request body: %w", err)
		}
		if len(body) > maxRequestBody {
			return nil, fmt.Errorf("h2client: request body over %d bytes", maxRequestBody)
		}
		req.Body = body
	}
	resp, err := c.Do(r.Context(), req)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(resp.Header))
	for _, f := range resp.Header {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       r,
	}, nil
}

// redactURL names a request's destination without its query, which may
// carry secrets.
func redactURL(r *http.Request) string {
	if r.URL == nil {
		return "a request without a URL"
	}
	return r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
}
