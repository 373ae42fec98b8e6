package memberlist

// Compiled into the copy of memberlist that build.sh makes, beside
// memberlist_goldens.go, for `peer run`'s members command.

// NodeStateEntry is one node memberlist knows, with its current state and
// incarnation.
type NodeStateEntry struct {
	Node        Node
	Incarnation uint32
}

// PeerNodeStates lists every node memberlist knows, dead and left ones too.
// Members() leaves those out, and in this version Node.State is never set:
// nodeState's own State field shadows it, so the state is copied from there.
func (m *Memberlist) PeerNodeStates() []NodeStateEntry {
	m.nodeLock.RLock()
	defer m.nodeLock.RUnlock()
	out := make([]NodeStateEntry, 0, len(m.nodes))
	for _, n := range m.nodes {
		node := n.Node
		node.State = n.State
		out = append(out, NodeStateEntry{Node: node, Incarnation: n.Incarnation})
	}
	return out
}
