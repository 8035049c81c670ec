//go:build !linux

package main

import "net"

// sameUser reports whether the peer of c runs as this process's user;
// without SO_PEERCRED the socket's mode 0600 is the only guard.
func sameUser(*net.UnixConn) bool { return true }
