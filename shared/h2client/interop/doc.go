// Package interop tests h2client against HTTP/2 servers nobody on this
// project wrote: Debian's nghttpd, nginx and h2o, each started by the
// tests on a loopback port with throw-away certificates. Every scenario
// (stream limits, tiny flow-control windows, padding, GOAWAY churn, a
// reload and a stop mid-run, large response header lists, cancellations)
// runs through h2client and, as the control, through
// golang.org/x/net/http2's Transport, and checks that every request ends
// exactly once, right or with an error that says whether the server may
// have processed it, against the server's own log of what it processed.
//
// The package has only tests. Without the servers they skip loudly; with
// CI=true they fail instead.
package interop
