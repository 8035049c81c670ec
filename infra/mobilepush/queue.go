package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/localsend"
)

const queueUsage = `usage: mobilepush queue [--data DIR] [--redrive] [--json]

Shows the local send queue of the data directory: messages visible,
in flight and delayed, and the dead-letter queue by reason. --redrive
moves every dead letter back to the send queue (after fixing what put
them there, e.g. a suspended credential); each is sent again with a new
attempt number when mobilepush serve runs.

Beside a running mobilepush serve it asks the server (through its admin
socket in the data directory); otherwise it opens the directory itself.

Exit status: 0 success, 1 failure, 2 usage error.

flags:
`

// queueReport is the --json output.
type queueReport struct {
	Visible   int            `json:"visible"`
	InFlight  int            `json:"in_flight"`
	Delayed   int            `json:"delayed"`
	Dead      int            `json:"dead"`
	ByReason  map[string]int `json:"dead_by_reason"`
	Redriven  int            `json:"redriven,omitempty"`
	CheckedAt time.Time      `json:"checked_at"`
}

func runQueue(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("queue", queueUsage, stderr)
	data := fs.String("data", defaultDataDir, "data `directory`")
	redrive := fs.Bool("redrive", false, "move every dead letter back to the send queue")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	if code, ok := fs.parseNoArgs(args); !ok {
		return code
	}
	rep, err := queueCommand(ctx, *data, *redrive)
	if err != nil {
		return fs.fail(err)
	}
	if *asJSON {
		_ = printJSON(stdout, rep)
		return exitOK
	}
	if *redrive {
		fmt.Fprintf(stdout, "redrove %d dead letters to the send queue; mobilepush serve sends them\n", rep.Redriven)
	}
	fmt.Fprintf(stdout, "send queue: %d visible, %d in flight, %d delayed\n", rep.Visible, rep.InFlight, rep.Delayed)
	fmt.Fprintf(stdout, "dead-letter queue: %d", rep.Dead)
	if len(rep.ByReason) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(rep.ByReason)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, rep.ByReason[r]))
		}
		fmt.Fprintf(stdout, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(stdout)
	if rep.Dead > 0 && !*redrive {
		fmt.Fprintln(stdout, "fix the cause, then run: mobilepush queue --redrive")
	}
	return exitOK
}

// queueCommand counts (and redrives) the queue of data: through the
// admin socket of the serve that holds it, or directly.
func queueCommand(ctx context.Context, data string, redrive bool) (queueReport, error) {
	var rep queueReport
	err := onDataDir(ctx, data, "mobilepush queue", func(dir *dataDir) error {
		store, err := boltstore.Open(dir.file("data.db"), boltstore.Options{})
		if err != nil {
			return err
		}
		defer store.Close()
		q, err := localqueue.Open(store.DB(), localsend.QueueName, localqueue.Config{})
		if err != nil {
			return err
		}
		ledger := credential.NewService(credential.Config{Meta: store, Secrets: store})
		rep, err = queueReportOf(ctx, q, ledger, redrive)
		return err
	}, func(c *adminClient) error {
		return c.call(ctx, "POST", "/v1/queue", queueRequest{Redrive: redrive}, &rep)
	})
	return rep, err
}

// localQueue is what the queue command needs of the embedded queue.
type localQueue interface {
	localsend.RedriveQueue
	Stats(ctx context.Context) (localqueue.Stats, error)
}

// queueReportOf redrives q when asked and counts it.
func queueReportOf(ctx context.Context, q localQueue, ledger localsend.Ledger, redrive bool) (queueReport, error) {
	rep := queueReport{ByReason: map[string]int{}}
	var err error
	if redrive {
		if rep.Redriven, err = localsend.Redrive(ctx, q, ledger); err != nil {
			return rep, err
		}
	}
	st, err := q.Stats(ctx)
	if err != nil {
		return rep, err
	}
	rep.Visible, rep.InFlight, rep.Delayed, rep.Dead = st.Visible, st.InFlight, st.Delayed, st.Dead
	err = q.Peek(ctx, true, func(m localqueue.Message) bool {
		reason := m.DeadReason
		if reason == "" {
			reason = "unknown"
		}
		rep.ByReason[reason]++
		return true
	})
	rep.CheckedAt = time.Now().UTC().Truncate(time.Second)
	return rep, err
}
