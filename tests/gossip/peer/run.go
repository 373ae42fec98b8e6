// `peer run`: one real memberlist node for interop tests, driven over
// stdin/stdout with one JSON object per line.
//
//	peer run -name go-1 -bind 127.0.0.1 -port 7946 [-join 127.0.0.1:7947,...]
//	         [-profile lan|wan|local] [-key BASE64,...] [-meta TEXT] [-state TEXT]
//	         [-state-b64 BASE64] [-verify-incoming=false] [-verify-outgoing=false]
//
// Out (stdout): {"event":"ready"}, then {"event":"join"|"leave"|"update",
// "node":{...}}, {"event":"user","payload":"...","payload_b64":"..."} for
// user messages (packet or stream), {"event":"merge","join":bool,
// "state":"...","state_b64":"..."} for push-pull user state (the _b64 fields
// are the exact bytes; the others are text for reading), and one answer per
// command. The state in events is memberlist's
// Node.State, which this memberlist version never updates (always "alive");
// the members command reports the real one.
//
// In (stdin), one command per line:
//
//	members               -> {"members":[{name,addr,port,state,meta,vsn,incarnation}...]}
//	                         every node known, suspect, dead and left ones too
//	                         (from memberlist_states.go)
//	broadcast TEXT        -> queues TEXT as a user broadcast (piggybacked)
//	send NAME TEXT        -> SendReliable (a stream user message) to NAME
//	broadcast-b64 B64     -> the same with the bytes given in base64
//	send-reliable NAME B64, send-best-effort NAME B64
//	                      -> SendReliable (stream) / SendBestEffort (packet)
//	state B64             -> the push-pull user state LocalState serves from now on
//	install KEY | use KEY | remove KEY | keys   -> the keyring (AddKey, UseKey,
//	                         RemoveKey, GetKeys: primary first)
//	leave                 -> Leave(), then {"event":"left"}
//	quit                  -> Shutdown() and exit
//
// The first key of -key is the primary. Binding anywhere but loopback is
// refused: the tests never leave the machine.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

type peer struct {
	out        sync.Mutex
	list       *memberlist.Memberlist
	broadcasts *memberlist.TransmitLimitedQueue
	mu         sync.Mutex // guards state: LocalState runs on memberlist's goroutines
	state      []byte
}

func (p *peer) localState() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.state...)
}

func (p *peer) setState(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func (p *peer) emit(v interface{}) {
	p.out.Lock()
	defer p.out.Unlock()
	b, _ := json.Marshal(v)
	os.Stdout.Write(append(b, '\n'))
}

type nodeJSON struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	Bytes int    `json:"addr_bytes"` // 4, or 16 for an IPv4 sent in IPv6 form
	Port  uint16 `json:"port"`
	State string `json:"state"`
	Meta  string `json:"meta"`
	Vsn   []int  `json:"vsn"`
	// Only in the members answer: memberlist does not pass it to events.
	Incarnation uint32 `json:"incarnation,omitempty"`
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return fmt.Sprintf("state-%d", int(s))
}

func toJSON(n *memberlist.Node) nodeJSON {
	return nodeJSON{Name: n.Name, Addr: n.Addr.String(), Bytes: len(n.Addr), Port: n.Port, State: stateName(n.State),
		Meta: string(n.Meta), Vsn: []int{int(n.PMin), int(n.PMax), int(n.PCur), int(n.DMin), int(n.DMax), int(n.DCur)}}
}

// memberlist.EventDelegate
func (p *peer) NotifyJoin(n *memberlist.Node) {
	p.emit(map[string]interface{}{"event": "join", "node": toJSON(n)})
}
func (p *peer) NotifyLeave(n *memberlist.Node) {
	p.emit(map[string]interface{}{"event": "leave", "node": toJSON(n)})
}
func (p *peer) NotifyUpdate(n *memberlist.Node) {
	p.emit(map[string]interface{}{"event": "update", "node": toJSON(n)})
}

// memberlist.Delegate
type delegate struct {
	p    *peer
	meta []byte
}

func (d *delegate) NodeMeta(limit int) []byte { return d.meta }
func (d *delegate) NotifyMsg(b []byte) {
	d.p.emit(map[string]interface{}{"event": "user", "payload": string(b), "payload_b64": b64(b)})
}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.p.broadcasts.GetBroadcasts(overhead, limit)
}
func (d *delegate) LocalState(join bool) []byte { return d.p.localState() }
func (d *delegate) MergeRemoteState(b []byte, join bool) {
	d.p.emit(map[string]interface{}{"event": "merge", "join": join, "state": string(b), "state_b64": b64(b)})
}

type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}

func profile(name string) (*memberlist.Config, error) {
	switch name {
	case "lan":
		return memberlist.DefaultLANConfig(), nil
	case "wan":
		return memberlist.DefaultWANConfig(), nil
	case "local":
		return memberlist.DefaultLocalConfig(), nil
	}
	return nil, fmt.Errorf("unknown profile %q", name)
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return k, memberlist.ValidateKey(k)
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	name := fs.String("name", "", "node name")
	bind := fs.String("bind", "127.0.0.1", "loopback address to bind")
	port := fs.Int("port", 7946, "UDP and TCP port")
	join := fs.String("join", "", "comma-separated host:port seeds")
	prof := fs.String("profile", "lan", "lan, wan or local")
	keys := fs.String("key", "", "comma-separated base64 keys, primary first")
	meta := fs.String("meta", "", "node metadata")
	state := fs.String("state", "", "push-pull user state")
	stateB64 := fs.String("state-b64", "", "push-pull user state, base64 (instead of -state)")
	verifyIn := fs.Bool("verify-incoming", true, "GossipVerifyIncoming")
	verifyOut := fs.Bool("verify-outgoing", true, "GossipVerifyOutgoing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("-name is required")
	}
	if ip := net.ParseIP(*bind); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-bind %q: only loopback addresses", *bind)
	}
	conf, err := profile(*prof)
	if err != nil {
		return err
	}
	p := &peer{state: []byte(*state)}
	if *stateB64 != "" {
		b, err := base64.StdEncoding.DecodeString(*stateB64)
		if err != nil {
			return fmt.Errorf("-state-b64: %v", err)
		}
		p.setState(b)
	}
	conf.Name = *name
	conf.BindAddr = *bind
	conf.BindPort = *port
	conf.AdvertiseAddr = *bind
	conf.AdvertisePort = *port
	conf.Events = p
	conf.Delegate = &delegate{p: p, meta: []byte(*meta)}
	conf.LogOutput = os.Stderr
	conf.GossipVerifyIncoming = *verifyIn
	conf.GossipVerifyOutgoing = *verifyOut
	if *keys != "" {
		var ring [][]byte
		for _, s := range strings.Split(*keys, ",") {
			k, err := decodeKey(s)
			if err != nil {
				return fmt.Errorf("-key: %v", err)
			}
			ring = append(ring, k)
		}
		if conf.Keyring, err = memberlist.NewKeyring(ring[1:], ring[0]); err != nil {
			return err
		}
	}
	list, err := memberlist.Create(conf)
	if err != nil {
		return err
	}
	p.list = list
	p.broadcasts = &memberlist.TransmitLimitedQueue{NumNodes: list.NumMembers, RetransmitMult: conf.RetransmitMult}
	if *join != "" {
		if _, err := list.Join(strings.Split(*join, ",")); err != nil {
			p.emit(map[string]interface{}{"event": "join_failed", "error": err.Error()})
		}
	}
	p.emit(map[string]interface{}{"event": "ready"})
	return p.commands(conf)
}

func (p *peer) commands(conf *memberlist.Config) error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.SplitN(strings.TrimSpace(in.Text()), " ", 3)
		reply := map[string]interface{}{"command": fields[0]}
		var err error
		switch fields[0] {
		case "members":
			var ms []nodeJSON
			for _, e := range p.list.PeerNodeStates() {
				n := toJSON(&e.Node)
				n.Incarnation = e.Incarnation
				ms = append(ms, n)
			}
			reply["members"] = ms
		case "broadcast":
			if len(fields) < 2 {
				err = fmt.Errorf("broadcast TEXT")
				break
			}
			p.broadcasts.QueueBroadcast(broadcast(strings.Join(fields[1:], " ")))
		case "send":
			err = p.send(fields, false, false)
		case "send-reliable":
			err = p.send(fields, true, false)
		case "send-best-effort":
			err = p.send(fields, true, true)
		case "broadcast-b64", "state":
			var b []byte
			if len(fields) != 2 {
				err = fmt.Errorf("%s B64", fields[0])
			} else if b, err = base64.StdEncoding.DecodeString(fields[1]); err == nil {
				if fields[0] == "state" {
					p.setState(b)
				} else {
					p.broadcasts.QueueBroadcast(broadcast(b))
				}
			}
		case "install", "use", "remove":
			err = p.keyring(conf, fields)
		case "keys":
			var ks []string
			if conf.Keyring != nil {
				for _, k := range conf.Keyring.GetKeys() {
					ks = append(ks, base64.StdEncoding.EncodeToString(k))
				}
			}
			reply["keys"] = ks
		case "leave":
			err = p.list.Leave(5 * time.Second)
			if err == nil {
				p.emit(map[string]interface{}{"event": "left"})
			}
		case "quit":
			return p.list.Shutdown()
		default:
			err = fmt.Errorf("unknown command %q", fields[0])
		}
		if err != nil {
			reply["error"] = err.Error()
		}
		p.emit(reply)
	}
	return p.list.Shutdown()
}

// send NAME TEXT, or with encoded: NAME B64; bestEffort: a packet, else a
// stream.
func (p *peer) send(fields []string, encoded, bestEffort bool) error {
	if len(fields) < 3 {
		return fmt.Errorf("%s NAME PAYLOAD", fields[0])
	}
	payload := []byte(fields[2])
	if encoded {
		var err error
		if payload, err = base64.StdEncoding.DecodeString(fields[2]); err != nil {
			return err
		}
	}
	for _, n := range p.list.Members() {
		if n.Name == fields[1] {
			if bestEffort {
				return p.list.SendBestEffort(n, payload)
			}
			return p.list.SendReliable(n, payload)
		}
	}
	return fmt.Errorf("no member %q", fields[1])
}

func (p *peer) keyring(conf *memberlist.Config, fields []string) error {
	if conf.Keyring == nil {
		return fmt.Errorf("started without -key: no keyring")
	}
	if len(fields) < 2 {
		return fmt.Errorf("%s KEY", fields[0])
	}
	k, err := decodeKey(fields[1])
	if err != nil {
		return err
	}
	switch fields[0] {
	case "install":
		return conf.Keyring.AddKey(k)
	case "use":
		return conf.Keyring.UseKey(k)
	default:
		return conf.Keyring.RemoveKey(k)
	}
}
