// cosigcheck checks a cocred checkpoint that witnesses cosigned, with code not
// written for cocred: Go's golang.org/x/mod/sumdb/note for the log's own
// signature (the cosignature lines must not disturb a signed-note reader), and
// the C2SP tlog-cosignature v1 format implemented here from the spec alone, over
// Go's crypto/ed25519:
//
//	key id    = SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
//	line      = "— <name> " base64(key id || u64 big-endian timestamp || signature)
//	signed    = "cosignature/v1\n" "time <timestamp>\n" <checkpoint body>
//
// Usage: cosigcheck CHECKPOINT_FILE LOG_VKEY WITNESS_VKEY...
// Prints "ok size=N witnesses=K" and exits 0 when the log's signature and every
// named witness's cosignature verify; prints "FAIL ..." and exits 1 otherwise.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run main.go ...
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

type witness struct {
	name string
	id   []byte
	key  ed25519.PublicKey
}

func parseWitness(vkey string) witness {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		fail("witness key %q is not name+id+key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		fail("witness key %q is not base64 of 0x04 || 32 bytes", vkey)
	}
	h := sha256.New()
	h.Write([]byte(parts[0] + "\n"))
	h.Write(raw)
	id := h.Sum(nil)[:4]
	if fmt.Sprintf("%x", id) != parts[1] {
		fail("witness key %q: key id %s, computed %x", vkey, parts[1], id)
	}
	return witness{parts[0], id, ed25519.PublicKey(raw[1:])}
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: cosigcheck CHECKPOINT_FILE LOG_VKEY WITNESS_VKEY...")
	}
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("log key: %v", err)
	}
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("log signature: %v", err)
	}
	body := []byte(n.Text)
	size := strings.Split(n.Text, "\n")[1]
	split := bytes.LastIndex(text, []byte("\n\n"))
	lines := strings.Split(strings.TrimSuffix(string(text[split+2:]), "\n"), "\n")
	for _, vkey := range os.Args[3:] {
		w := parseWitness(vkey)
		found := false
		for _, line := range lines {
			fields := strings.Split(line, " ")
			if len(fields) != 3 || fields[0] != "—" || fields[1] != w.name {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(fields[2])
			if err != nil || len(raw) != 4+8+64 || !bytes.Equal(raw[:4], w.id) {
				continue
			}
			timestamp := binary.BigEndian.Uint64(raw[4:12])
			message := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", timestamp)), body...)
			if !ed25519.Verify(w.key, message, raw[12:]) {
				fail("cosignature by %s (time %d) does not verify", w.name, timestamp)
			}
			found = true
		}
		if !found {
			fail("no cosignature by %s", w.name)
		}
	}
	fmt.Printf("ok size=%s witnesses=%d\n", size, len(os.Args)-3)
}
