package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// jsonRequest is a request with body as its JSON (nil: no body), as the
// commands send it to the local server and to serve's admin socket.
func jsonRequest(ctx context.Context, method, url string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// printJSON writes v as indented JSON, the --json and --format json output
// of the commands.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
