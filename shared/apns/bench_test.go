package apns_test

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/sideshow/apns2"
	"golang.org/x/net/http2"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// BenchmarkPush compares this package's Client with a bare apns2 client
// on the same fake (certificate auth, parallel pushes). Compare the ns/op
// and allocs/op of the two sub-benchmarks.
func BenchmarkPush(b *testing.B) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := testcred.RSAKeys(1)
	id, err := ca.IssuePush(testcred.PushCert{Key: keys[0]})
	if err != nil {
		b.Fatal(err)
	}
	s, err := apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{AcceptAnyIssuer: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	b.Run("apns.Client", func(b *testing.B) {
		c, err := apns.NewClient(config(s), certAuthB(b, id), push.Production)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload})
				if err != nil || r.Status != 200 {
					b.Errorf("%v %v", r, err)
					return
				}
			}
		})
	})
	b.Run("apns2.Client", func(b *testing.B) {
		cert := tls.Certificate{Certificate: [][]byte{id.Cert.Raw, id.Chain[0].Raw}, PrivateKey: id.Key}
		c := apns2.NewClient(cert)
		c.Host = s.URL
		c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig.RootCAs = s.RootCAs
		defer c.CloseIdleConnections()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := c.Push(&apns2.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload})
				if err != nil || r.StatusCode != 200 {
					b.Errorf("%v %v", r, err)
					return
				}
			}
		})
	})
}
