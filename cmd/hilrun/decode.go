package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/modbatt/hilrun/capture"
	"github.com/modbatt/hilrun/protocol/describe"
)

// maxReportedErrors bounds the bad records decode prints one by one; a garbage file of a million
// lines should not bury the frames that did decode.
const maxReportedErrors = 20

func runDecode(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "decode", "decode FILE [--bus NAME] [--json]\n\n"+
		"Prints one line per frame of a capture (candump .log or pcap): time, bus, frame and what it\n"+
		"means (Web4 identifier and ISO-TP framing, legacy Modbatt message, error frame, or unknown).\n"+
		"Exit status: 0 all records decoded, 1 the file has bad records, 3 the file cannot be opened.")
	busName := fs.String("bus", "", "show only frames of this interface (a pcap file's interface is its name without extension)")
	asJSON := fs.Bool("json", false, "print one JSON object per frame")
	// Flags may come before or after FILE.
	var files []string
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return exitUsage
	}
	path := files[0]
	r, err := capture.Open(path)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun decode: %v\n", err)
		return exitEnviron
	}
	defer r.Close()

	out := bufio.NewWriterSize(env.stdout, 64<<10)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	bad := 0
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			fmt.Fprintf(env.stderr, "hilrun decode: %v\n", ctx.Err())
			return exitFailed
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, capture.ErrBadRecord) {
				fmt.Fprintf(env.stderr, "hilrun decode: %s: %v\n", path, err)
				return exitFailed
			}
			if bad++; bad <= maxReportedErrors {
				fmt.Fprintf(env.stderr, "hilrun decode: %s: %v\n", path, err)
			}
			continue
		}
		if *busName != "" && rec.Iface != *busName {
			continue
		}
		d := describeRecord(rec)
		if *asJSON {
			err = enc.Encode(jsonRecord(rec, d))
		} else {
			_, err = fmt.Fprintf(out, "%s  %s  %s  %s\n", timestamp(rec.Time), rec.Iface, frameText(rec), d.Summary)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "hilrun decode: %v\n", err)
			return exitFailed
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(env.stderr, "hilrun decode: %v\n", err)
		return exitFailed
	}
	if bad > 0 {
		if bad > maxReportedErrors {
			fmt.Fprintf(env.stderr, "hilrun decode: %s: %d more bad records not shown\n", path, bad-maxReportedErrors)
		}
		fmt.Fprintf(env.stderr, "hilrun decode: %s: %d bad records\n", path, bad)
		return exitFailed
	}
	return exitOK
}

func describeRecord(rec capture.Record) describe.Description {
	if rec.Error {
		return describe.Error(rec.Frame.ID)
	}
	return describe.Frame(rec.Frame)
}

// timestamp renders seconds since 1970 as candump does, with nanoseconds when there are any.
func timestamp(t time.Time) string {
	sec, ns := t.Unix(), t.Nanosecond()
	if ns%1000 == 0 {
		return fmt.Sprintf("%d.%06d", sec, ns/1000)
	}
	return fmt.Sprintf("%d.%09d", sec, ns)
}

// frameText renders the frame in candump's compact syntax, error records with CAN_ERR_FLAG.
func frameText(rec capture.Record) string {
	if rec.Error {
		return fmt.Sprintf("%08X#%X", 0x20000000|rec.Frame.ID, rec.Frame.Payload())
	}
	return rec.Frame.String()
}

type decodedRecord struct {
	Time     string `json:"time"`
	Bus      string `json:"bus"`
	ID       string `json:"id"`
	Extended bool   `json:"extended"`
	Remote   bool   `json:"remote,omitempty"`
	FD       bool   `json:"fd,omitempty"`
	BRS      bool   `json:"brs,omitempty"`
	ESI      bool   `json:"esi,omitempty"`
	Len      int    `json:"len"`
	Data     string `json:"data"`
	describe.Description
}

func jsonRecord(rec capture.Record, d describe.Description) decodedRecord {
	f := rec.Frame
	id, digits := f.ID, 3
	if f.Extended || rec.Error {
		digits = 8
	}
	if rec.Error {
		id |= 0x20000000
	}
	data := hex.EncodeToString(f.Payload())
	if f.Remote {
		data = ""
	}
	return decodedRecord{
		Time: rec.Time.UTC().Format(time.RFC3339Nano), Bus: rec.Iface,
		ID:       strings.ToUpper(fmt.Sprintf("%0*s", digits, strconv.FormatUint(uint64(id), 16))),
		Extended: f.Extended, Remote: f.Remote, FD: f.FD, BRS: f.BRS, ESI: f.ESI,
		Len: int(f.Len), Data: data, Description: d,
	}
}
