package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// dataDir is a data directory held by this process: one process owns a
// data directory at a time (docs/ARCHITECTURE.md, Local server).
type dataDir struct {
	path string
	lock *os.File
}

// holder is what the lock file says about the process that holds it.
type holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// errHeld is returned when another process holds the directory.
var errHeld = errors.New("data directory in use")

// openDataDir creates (mode 0700) and locks dir for command, waiting at
// most wait for another holder to let go. The error names the holder.
func openDataDir(dir, command string, wait time.Duration) (*dataDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, "mobilepush.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock data directory: %w", err)
		}
		if time.Now().After(deadline) {
			var h holder
			b, _ := os.ReadFile(path)
			_ = json.Unmarshal(b, &h)
			f.Close()
			who := "another process"
			if h.PID != 0 {
				who = fmt.Sprintf("pid %d (%s, since %s)", h.PID, h.Command, h.Since.Format(time.RFC3339))
			}
			return nil, fmt.Errorf("%w: %s is held by %s; stop it or use another --data", errHeld, dir, who)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.Marshal(holder{PID: os.Getpid(), Command: command, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return &dataDir{path: dir, lock: f}, nil
}

// file returns the path of name inside the directory.
func (d *dataDir) file(name string) string { return filepath.Join(d.path, name) }

// Close releases the directory.
func (d *dataDir) Close() error {
	_ = d.lock.Truncate(0)
	return d.lock.Close() // closing releases the flock
}

func commandLine() string { return strings.Join(append([]string{"mobilepush"}, os.Args[1:2]...), " ") }

// serveState is what serve records in serve.json of its data directory
// for the commands that run without it (check-expiry's gateways).
type serveState struct {
	FakeGateways bool      `json:"fake_gateways"`
	Addr         string    `json:"addr"`
	Since        time.Time `json:"since"`
}

const serveStateName = "serve.json"

func writeServeState(d *dataDir, st serveState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(d.file(serveStateName), append(b, '\n'), 0o600)
}

// readServeState reads serve.json; a missing or bad file is the zero state.
func readServeState(d *dataDir) serveState {
	var st serveState
	b, err := os.ReadFile(d.file(serveStateName))
	if err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}
