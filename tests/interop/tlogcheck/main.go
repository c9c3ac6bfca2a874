// tlogcheck reads a cocred log exported as C2SP tlog-tiles with Go's own
// transparency-log packages (golang.org/x/mod/sumdb/note and .../tlog), which
// were not written for cocred, and checks it:
//
//   - the checkpoint's Ed25519 signed-note signature against the ledger's
//     verifier key (note.Open);
//   - the tree, recomputed from the tiles: tlog.TileHashReader authenticates
//     every tile it reads against the checkpoint's root;
//   - every entry of the entry bundles hashes (RFC 6962) to its level-0 tile hash
//     and has an inclusion proof (ProveRecord/CheckRecord);
//   - an older checkpoint: its signature, its root from the same tiles, and a
//     consistency proof to the newer one (ProveTree/CheckTree);
//   - cocred's own inclusion and consistency proofs (JSON as its API serves them).
//
// Usage: tlogcheck DIR VKEY OLD_CHECKPOINT_FILE PROOFS_JSON
// Prints one line "ok ..." and exits 0, or prints what failed and exits 1.
//
// Built against Debian's golang-golang-x-mod-dev with no network:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run main.go ...
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func openCheckpoint(text []byte, verifier note.Verifier) checkpoint {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size %q: %v", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: hash}}
}

// c2spPath maps Go's tile path (tile/H/L/N, entries at level "data") to C2SP's,
// which drops the height (always 8) and names the entries "entries".
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	p = strings.Replace(p, "tile/8/data/", "tile/entries/", 1)
	return strings.Replace(p, "tile/8/", "tile/", 1)
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func entries(dir string, size int64) [][]byte {
	var out [][]byte
	for n := int64(0); n*256 < size; n++ {
		width := size - n*256
		if width > 256 {
			width = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: n, W: int(width)}
		data, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
		if err != nil {
			fail("entry bundle: %v", err)
		}
		for len(data) > 0 {
			if len(data) < 2 {
				fail("entry bundle %s: cut length prefix", c2spPath(t))
			}
			length := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+length {
				fail("entry bundle %s: cut entry", c2spPath(t))
			}
			out = append(out, data[2:2+length])
			data = data[2+length:]
		}
	}
	if int64(len(out)) != size {
		fail("entry bundles hold %d entries, the checkpoint says %d", len(out), size)
	}
	return out
}

type proofs struct {
	Inclusion struct {
		Index int64    `json:"index"`
		Size  int64    `json:"size"`
		Path  []string `json:"path"`
	} `json:"inclusion"`
	Consistency struct {
		OldSize int64    `json:"old_size"`
		NewSize int64    `json:"new_size"`
		Path    []string `json:"path"`
	} `json:"consistency"`
}

func hashes(path []string) []tlog.Hash {
	out := make([]tlog.Hash, len(path))
	for i, h := range path {
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(raw) != tlog.HashSize {
			fail("proof hash %q", h)
		}
		copy(out[i][:], raw)
	}
	return out
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: tlogcheck DIR VKEY OLD_CHECKPOINT_FILE PROOFS_JSON")
	}
	dir, vkey := os.Args[1], os.Args[2]
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	text, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	latest := openCheckpoint(text, verifier)
	reader := tlog.TileHashReader(latest.tree, dirTiles{dir})
	root, err := tlog.TreeHash(latest.tree.N, reader)
	if err != nil || root != latest.tree.Hash {
		fail("tree hash from tiles: %v (%v vs %v)", err, root, latest.tree.Hash)
	}
	for i, entry := range entries(dir, latest.tree.N) {
		stored, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(i))})
		if err != nil {
			fail("leaf %d: %v", i, err)
		}
		if tlog.RecordHash(entry) != stored[0] {
			fail("entry %d does not hash to its tile's leaf", i)
		}
		proof, err := tlog.ProveRecord(latest.tree.N, int64(i), reader)
		if err != nil {
			fail("prove record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, latest.tree.N, latest.tree.Hash, int64(i), stored[0]); err != nil {
			fail("check record %d: %v", i, err)
		}
	}
	oldText, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("old checkpoint: %v", err)
	}
	old := openCheckpoint(oldText, verifier)
	if old.origin != latest.origin {
		fail("origins differ: %q vs %q", old.origin, latest.origin)
	}
	oldRoot, err := tlog.TreeHash(old.tree.N, reader)
	if err != nil || oldRoot != old.tree.Hash {
		fail("old tree hash from tiles: %v", err)
	}
	treeProof, err := tlog.ProveTree(latest.tree.N, old.tree.N, reader)
	if err != nil {
		fail("prove tree: %v", err)
	}
	if err := tlog.CheckTree(treeProof, latest.tree.N, latest.tree.Hash, old.tree.N, old.tree.Hash); err != nil {
		fail("check tree: %v", err)
	}
	raw, err := os.ReadFile(os.Args[4])
	if err != nil {
		fail("proofs: %v", err)
	}
	var theirs proofs
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&theirs); err != nil {
		fail("proofs: %v", err)
	}
	inc := theirs.Inclusion
	leaf, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, inc.Index)})
	if err != nil {
		fail("leaf %d: %v", inc.Index, err)
	}
	if inc.Size != latest.tree.N {
		fail("cocred's inclusion proof is for size %d, not %d", inc.Size, latest.tree.N)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(hashes(inc.Path)), inc.Size, latest.tree.Hash, inc.Index, leaf[0]); err != nil {
		fail("cocred's inclusion proof: %v", err)
	}
	con := theirs.Consistency
	if con.OldSize != old.tree.N || con.NewSize != latest.tree.N {
		fail("cocred's consistency proof is for %d -> %d", con.OldSize, con.NewSize)
	}
	if err := tlog.CheckTree(tlog.TreeProof(hashes(con.Path)), con.NewSize, latest.tree.Hash, con.OldSize, old.tree.Hash); err != nil {
		fail("cocred's consistency proof: %v", err)
	}
	fmt.Printf("ok origin=%s size=%d old=%d entries=%d\n", latest.origin, latest.tree.N, old.tree.N, latest.tree.N)
}
