// This file is compiled inside a copy of memberlist's own package (see
// build.sh), so the golden bytes come from memberlist's unexported encode(),
// makeCompoundMessage(), compressPayload(), encryptPayload(),
// sendLocalState(), encryptLocalState() and readers, not from a re-creation.
//
// GoldenWrite(dir) writes one file per case; GoldenCheck(dir) regenerates the
// deterministic ones and compares, decrypts memberlist's own sealed files and
// the ones cairn sealed (cairn_*.bin), and decodes cairn's streams.

package memberlist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/ioutil"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/go-msgpack/codec"
)

// Fixed keys (the unit tests use the same ones).
var (
	goldenKey16 = []byte("0123456789abcdef")
	goldenKey24 = []byte("0123456789abcdefghijklmn")
	goldenKey32 = []byte("0123456789abcdefghijklmnopqrstuv")
)

var (
	goldenAddr4  = []byte{127, 0, 0, 1}
	goldenAddr16 = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}
	goldenVsn    = []uint8{1, 5, 2, 2, 5, 4}
	goldenMeta   = []byte("dc=dc1;version=0.1.0;role=agent;zone=a1") // 39 bytes: raw16
)

func mustEncode(t messageType, v interface{}) []byte {
	buf, err := encode(t, v)
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func goldenAlive() []byte {
	return mustEncode(aliveMsg, &alive{Incarnation: 1, Node: "node-a", Addr: goldenAddr4, Port: 7946,
		Meta: goldenMeta, Vsn: goldenVsn})
}

func goldenSuspect() []byte {
	return mustEncode(suspectMsg, &suspect{Incarnation: 7, Node: "node-c", From: "node-a"})
}

func goldenDead() []byte {
	return mustEncode(deadMsg, &dead{Incarnation: 3, Node: "node-c", From: "node-c"})
}

func withCRC(msg []byte) []byte {
	// As rawSendMsgPacket does it for peers with PMax >= 5.
	header := make([]byte, 5, 5+len(msg))
	header[0] = byte(hasCrcMsg)
	binary.BigEndian.PutUint32(header[1:], crc32.ChecksumIEEE(msg))
	return append(header, msg...)
}

func goldenCompound() []byte {
	return makeCompoundMessage([][]byte{goldenAlive(), goldenSuspect(), goldenDead()}).Bytes()
}

// The deterministic cases: name -> bytes.
func goldenCases() map[string][]byte {
	cases := map[string][]byte{}
	cases["ping"] = mustEncode(pingMsg, &ping{SeqNo: 42, Node: "node-b"})
	cases["ping_source"] = mustEncode(pingMsg, &ping{SeqNo: 0x12345678, Node: "node-b",
		SourceAddr: goldenAddr4, SourcePort: 7946, SourceNode: "node-a"})
	cases["indirect_ping"] = mustEncode(indirectPingMsg, &indirectPingReq{SeqNo: 300,
		Target: []byte{127, 0, 0, 3}, Port: 7946, Node: "node-c", Nack: true,
		SourceAddr: goldenAddr16, SourcePort: 8301, SourceNode: "node-a"})
	cases["indirect_ping_plain"] = mustEncode(indirectPingMsg, &indirectPingReq{SeqNo: 1,
		Target: []byte{127, 0, 0, 3}, Port: 7946, Node: "node-c"})
	cases["ack"] = mustEncode(ackRespMsg, &ackResp{SeqNo: 42})
	cases["ack_payload"] = mustEncode(ackRespMsg, &ackResp{SeqNo: 70000, Payload: []byte("hello")})
	cases["nack"] = mustEncode(nackRespMsg, &nackResp{SeqNo: 4294967295})
	cases["suspect"] = goldenSuspect()
	cases["alive"] = goldenAlive()
	cases["alive_ipv6_nometa"] = mustEncode(aliveMsg, &alive{Incarnation: 65536, Node: "node-b",
		Addr: goldenAddr16, Port: 65535, Vsn: goldenVsn})
	cases["dead"] = goldenDead()
	cases["err"] = mustEncode(errMsg, &errResp{Error: "remote node state is larger than limit"})
	cases["user"] = append([]byte{byte(userMsg)}, []byte("user payload")...)
	cases["compound"] = goldenCompound()
	cases["crc_compound"] = withCRC(goldenCompound())
	cases["crc_ping"] = withCRC(cases["ping"])
	compressed, err := compressPayload(goldenCompound())
	if err != nil {
		panic(err)
	}
	cases["compress_compound"] = compressed.Bytes()
	// A longer, repetitive payload so LZW codes grow past 9 bits.
	var long [][]byte
	for i := 0; i < 40; i++ {
		long = append(long, mustEncode(aliveMsg, &alive{Incarnation: uint32(i), Node: fmt.Sprintf("node-%03d", i),
			Addr: []byte{127, 0, 1, byte(i)}, Port: 7946, Meta: goldenMeta, Vsn: goldenVsn}))
	}
	longCompressed, err := compressPayload(makeCompoundMessage(long).Bytes())
	if err != nil {
		panic(err)
	}
	cases["compress_long"] = longCompressed.Bytes()
	cases["push_pull"] = goldenStream(false, false)
	cases["push_pull_compressed"] = goldenStream(true, false)
	cases["push_pull_members_compressed"] = goldenMembersStream()
	cases["stream_user"] = goldenStreamUser()
	return cases
}

// bufConn is a net.Conn that only collects what is written, or serves a
// fixed input, so memberlist's stream functions run unchanged.
type bufConn struct {
	out bytes.Buffer
	in  *bytes.Reader
}

func (c *bufConn) Read(b []byte) (int, error)         { return c.in.Read(b) }
func (c *bufConn) Write(b []byte) (int, error)        { return c.out.Write(b) }
func (c *bufConn) Close() error                       { return nil }
func (c *bufConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7946} }
func (c *bufConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 7946} }
func (c *bufConn) SetDeadline(t time.Time) error      { return nil }
func (c *bufConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *bufConn) SetWriteDeadline(t time.Time) error { return nil }

type goldenDelegate struct{ state []byte }

func (d *goldenDelegate) NodeMeta(limit int) []byte                  { return nil }
func (d *goldenDelegate) NotifyMsg([]byte)                           {}
func (d *goldenDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *goldenDelegate) LocalState(join bool) []byte                { return d.state }
func (d *goldenDelegate) MergeRemoteState(buf []byte, join bool)     {}

func goldenMemberlist(compress bool, keyring *Keyring) *Memberlist {
	conf := DefaultLANConfig()
	conf.EnableCompression = compress
	conf.Keyring = keyring
	conf.Delegate = &goldenDelegate{state: []byte("user state bytes")}
	conf.Logger = log.New(ioutil.Discard, "", 0)
	conf.LogOutput = nil
	m := &Memberlist{config: conf, logger: conf.Logger}
	m.nodes = []*nodeState{
		{Node: Node{Name: "node-a", Addr: goldenAddr4, Port: 7946, Meta: goldenMeta,
			PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 4}, Incarnation: 2, State: StateAlive},
		{Node: Node{Name: "node-b", Addr: goldenAddr16, Port: 8301,
			PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 4}, Incarnation: 9, State: StateSuspect},
		{Node: Node{Name: "node-c", Addr: []byte{127, 0, 0, 3}, Port: 7946,
			PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 4}, Incarnation: 1, State: StateDead},
		{Node: Node{Name: "node-d", Addr: []byte{127, 0, 0, 4}, Port: 7946,
			PMin: 1, PMax: 5, PCur: 2, DMin: 2, DMax: 5, DCur: 4}, Incarnation: 4, State: StateLeft},
	}
	return m
}

// goldenStream: what sendLocalState writes on a push-pull stream (join).
func goldenStream(compress bool, encrypt bool) []byte {
	var keyring *Keyring
	if encrypt {
		keyring, _ = NewKeyring(nil, goldenKey32)
	}
	m := goldenMemberlist(compress, keyring)
	conn := &bufConn{}
	if err := m.sendLocalState(conn, true); err != nil {
		panic(err)
	}
	return conn.out.Bytes()
}

// goldenMembersStream: a compressed push-pull of 50 alive members, as a
// cluster of cairn agents has them (names of one length, consecutive
// addresses, a cairn agent's 3-byte metadata), with no user state.
func goldenMembersStream() []byte {
	m := goldenMemberlist(true, nil)
	m.config.Delegate = nil
	m.nodes = nil
	for i := 0; i < 50; i++ {
		m.nodes = append(m.nodes, &nodeState{Node: Node{Name: fmt.Sprintf("agent-%02d", i),
			Addr: []byte{127, 0, 0, byte(10 + i)}, Port: 8301, Meta: []byte{1, 1, 0},
			PMin: 1, PMax: 5, PCur: 2}, Incarnation: 1, State: StateAlive})
	}
	conn := &bufConn{}
	if err := m.sendLocalState(conn, false); err != nil {
		panic(err)
	}
	return conn.out.Bytes()
}

// goldenStreamUser: what sendUserMsg writes (its dial is replaced by bufConn).
func goldenStreamUser() []byte {
	m := goldenMemberlist(false, nil)
	conn := &bufConn{}
	buf := bytes.NewBuffer(nil)
	buf.WriteByte(byte(userMsg))
	payload := []byte("a user message on a stream")
	hd := codec.MsgpackHandle{}
	enc := codec.NewEncoder(buf, &hd)
	if err := enc.Encode(&userMsgHeader{UserMsgLen: len(payload)}); err != nil {
		panic(err)
	}
	buf.Write(payload)
	if err := m.rawSendMsgStream(conn, buf.Bytes()); err != nil {
		panic(err)
	}
	return conn.out.Bytes()
}

// The random-nonce cases: memberlist seals, cairn must open.
func goldenSealed() map[string][]byte {
	out := map[string][]byte{}
	seal := func(vsn encryptionVersion, key []byte, msg []byte) []byte {
		var buf bytes.Buffer
		if err := encryptPayload(vsn, key, msg, nil, &buf); err != nil {
			panic(err)
		}
		return buf.Bytes()
	}
	plain := withCRC(goldenCompound())
	out["sealed_v1_key16"] = seal(1, goldenKey16, plain)
	out["sealed_v1_key24"] = seal(1, goldenKey24, plain)
	out["sealed_v0_key32"] = seal(0, goldenKey32, plain)
	out["sealed_v1_key32"] = seal(1, goldenKey32, plain)
	out["push_pull_encrypted"] = goldenStream(false, true)
	return out
}

func writeFile(dir, name string, b []byte) error {
	return ioutil.WriteFile(filepath.Join(dir, name+".bin"), b, 0o644)
}

// GoldenWrite writes every case into dir.
func GoldenWrite(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range goldenCases() {
		if err := writeFile(dir, name, b); err != nil {
			return err
		}
	}
	for name, b := range goldenSealed() {
		if err := writeFile(dir, name, b); err != nil {
			return err
		}
	}
	return nil
}

func readFile(dir, name string) ([]byte, error) {
	return ioutil.ReadFile(filepath.Join(dir, name+".bin"))
}

// GoldenCheck verifies the stored files in dir against memberlist.
func GoldenCheck(dir string) error {
	var failures []string
	cases := goldenCases()
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		stored, err := readFile(dir, name)
		if err != nil {
			failures = append(failures, err.Error())
		} else if !bytes.Equal(stored, cases[name]) {
			failures = append(failures, fmt.Sprintf("%s: stored bytes differ from memberlist's\n  stored %x\n  go     %x",
				name, stored, cases[name]))
		}
	}
	plain := withCRC(goldenCompound())
	keys := [][]byte{goldenKey16, goldenKey24, goldenKey32}
	// memberlist's own sealed packets and cairn's (same plaintext).
	for _, name := range []string{"sealed_v1_key16", "sealed_v1_key24", "sealed_v0_key32", "sealed_v1_key32",
		"cairn_sealed_v1_key16", "cairn_sealed_v0_key24", "cairn_sealed_v1_key32"} {
		stored, err := readFile(dir, name)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		got, err := decryptPayload(keys, stored, nil)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: memberlist cannot decrypt: %v", name, err))
		} else if !bytes.Equal(got, plain) {
			failures = append(failures, fmt.Sprintf("%s: decrypts to other bytes: %x", name, got))
		}
	}
	// Streams: memberlist's readers on memberlist's and cairn's bytes.
	for _, name := range []string{"push_pull_encrypted", "cairn_push_pull_encrypted", "push_pull_compressed"} {
		if err := checkStream(dir, name); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", name, err))
		}
	}
	// cairn's compression (its own choice of phrases) read by memberlist: of
	// long input, and of memberlist's 50-member push-pull.
	members, err := decompressPayload(cases["push_pull_members_compressed"][1:])
	if err != nil {
		panic(err)
	}
	for name, want := range map[string][]byte{"cairn_compress_big": lzwInput(20000),
		"cairn_push_pull_members_compressed": members} {
		if stored, err := readFile(dir, name); err != nil {
			failures = append(failures, err.Error())
		} else if got, err := decompressPayload(stored[1:]); err != nil {
			failures = append(failures, fmt.Sprintf("%s: memberlist cannot decompress: %v", name, err))
		} else if !bytes.Equal(got, want) {
			failures = append(failures, name+": decompresses to other bytes")
		}
	}
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Fprintln(os.Stderr, f)
		}
		return fmt.Errorf("%d golden checks failed", len(failures))
	}
	return nil
}

// lzwInput is golden.hpp's lzw_input: text with a random byte in every seven.
func lzwInput(size int) []byte {
	out := make([]byte, 0, size)
	x := uint32(1)
	for i := 0; i < size; i++ {
		x = x*1103515245 + 12345
		if i%7 == 0 {
			out = append(out, byte(x>>24))
		} else {
			out = append(out, byte('a'+i%13))
		}
	}
	return out
}

// checkStream reads a push-pull stream with memberlist's readStream and
// readRemoteState and compares what it holds with goldenMemberlist's state.
func checkStream(dir, name string) error {
	stored, err := readFile(dir, name)
	if err != nil {
		return err
	}
	var keyring *Keyring
	if bytes.Contains([]byte(name), []byte("encrypted")) {
		keyring, _ = NewKeyring([][]byte{goldenKey16}, goldenKey32)
	}
	m := goldenMemberlist(false, keyring)
	conn := &bufConn{in: bytes.NewReader(stored)}
	msgType, reader, dec, err := m.readStream(conn)
	if err != nil {
		return err
	}
	if msgType != pushPullMsg {
		return fmt.Errorf("message type %d", msgType)
	}
	join, nodes, user, err := m.readRemoteState(reader, dec)
	if err != nil {
		return err
	}
	if !join || len(nodes) != len(m.nodes) || string(user) != "user state bytes" {
		return fmt.Errorf("join %v, %d nodes, user state %q", join, len(nodes), user)
	}
	for i, n := range nodes {
		want := m.nodes[i]
		if n.Name != want.Name || !bytes.Equal(n.Addr, want.Addr) || n.Port != want.Port ||
			!bytes.Equal(n.Meta, want.Meta) || n.Incarnation != want.Incarnation || n.State != want.State ||
			!bytes.Equal(n.Vsn, []uint8{want.PMin, want.PMax, want.PCur, want.DMin, want.DMax, want.DCur}) {
			return fmt.Errorf("node %d differs: %+v", i, n)
		}
	}
	return nil
}
