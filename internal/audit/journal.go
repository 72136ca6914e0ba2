package audit

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"strings"
)

// sendJournal sends rec to journald over its native protocol: one
// datagram of KEY=value lines; the JSON record goes in HARDENED_RECORD
// with the protocol's length-prefixed form (it may hold newlines in
// values). Nothing is sent when the socket does not exist.
func sendJournal(socket string, rec *Record, record []byte) error {
	if _, err := os.Stat(socket); err != nil {
		return err
	}
	var b bytes.Buffer
	field := func(k, v string) {
		if v == "" {
			return
		}
		v = strings.ReplaceAll(v, "\n", " ")
		b.WriteString(k + "=" + v + "\n")
	}
	field("MESSAGE", rec.Summary())
	field("SYSLOG_IDENTIFIER", "hardened")
	priority := "6"
	if len(rec.Refusals) > 0 || len(rec.Warnings) > 0 {
		priority = "4"
	}
	field("PRIORITY", priority)
	field("HARDENED_EVENT", rec.Event)
	field("HARDENED_ID", rec.ID)
	field("HARDENED_ENGINE", rec.Engine)
	field("HARDENED_NAME", rec.Name)
	field("HARDENED_POD", rec.Pod)
	field("HARDENED_MODE", rec.Mode)
	b.WriteString("HARDENED_RECORD\n")
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(record)))
	b.Write(n[:])
	b.Write(record)
	b.WriteString("\n")
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write(b.Bytes())
	return err
}
