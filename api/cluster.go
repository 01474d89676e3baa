package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"brygga/config"
	"brygga/store"
)

// Cluster is what the API needs to know of the other nodes when several
// bridges share one PostgreSQL; cmd/brygga's is the store's node registry.
type Cluster interface {
	// Self is this node's cluster.node_id.
	Self() string
	// Peers are the live nodes, this one included, with the base URLs of
	// their APIs.
	Peers(ctx context.Context) ([]store.Peer, error)
	// RoomPeer is the node whose lease says it mixes room; ok false when
	// none does.
	RoomPeer(ctx context.Context, room string) (p store.Peer, ok bool, err error)
}

// ViaHeader marks a request one node passes to another, naming the node it
// came through. A request that carries it is answered from this node's own
// conferences only, never passed on again, so two nodes cannot bounce a
// request between them and a list is gathered in one round.
const ViaHeader = "X-Brygga-Via"

// MissingHeader on a merged list names the nodes (comma-separated) that
// did not answer in time, whose conferences the list lacks.
const MissingHeader = "X-Brygga-Missing-Nodes"

// Time limits of the requests one node makes of another. A list waits for
// the slowest node, so its limit is short; an action is one request and
// may take a little longer on a busy node.
const (
	peerListTimeout = 2 * time.Second
	forwardTimeout  = 10 * time.Second
	registryTimeout = time.Second
)

// clustered reports whether r is to be answered across the cluster: this
// node is one of several, and r did not come from another node.
func (s *server) clustered(r *http.Request) bool {
	return s.o.Cluster != nil && r.Header.Get(ViaHeader) == ""
}

// nodeName is this node's name for the node field of its conferences; ""
// on a single bridge, where the field is left out.
func (s *server) nodeName() string {
	if s.o.Cluster == nil {
		return ""
	}
	return s.o.Cluster.Self()
}

// peerConferences gathers the other live nodes' own conference lists, each
// asked with the client's own token (every node checks it again, so a
// token is worth no more on a node through another). It returns the nodes
// that could not be asked or did not answer.
func (s *server) peerConferences(r *http.Request) (out []conferenceJSON, missing []string) {
	ctx, cancel := context.WithTimeout(r.Context(), peerListTimeout)
	defer cancel()
	rctx, rcancel := context.WithTimeout(ctx, registryTimeout)
	peers, err := s.o.Cluster.Peers(rctx)
	rcancel()
	if err != nil {
		s.log.Warn("api: the cluster's nodes are unknown; listing this node's conferences only", "err", err)
		return nil, []string{"*"}
	}
	self := s.o.Cluster.Self()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range peers {
		if p.ID == self {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			list, err := s.askPeer(ctx, r, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Warn("api: a node's conferences are missing from the list", "node", p.ID, "err", err)
				missing = append(missing, p.ID)
				return
			}
			out = append(out, list...)
		}()
	}
	wg.Wait()
	slices.Sort(missing)
	return out, missing
}

// askPeer fetches p's own conferences.
func (s *server) askPeer(ctx context.Context, r *http.Request, p store.Peer) ([]conferenceJSON, error) {
	if p.API == "" {
		return nil, fmt.Errorf("node %s registered no API address", p.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.API, "/")+"/api/v1/conferences", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set(ViaHeader, s.o.Cluster.Self())
	res, err := s.peerClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("node %s answered %s", p.ID, res.Status)
	}
	var list []conferenceJSON
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("node %s: %w", p.ID, err)
	}
	for i := range list {
		if list[i].Node == "" {
			list[i].Node = p.ID
		}
	}
	return list, nil
}

func (s *server) peerClient() *http.Client {
	if s.o.PeerClient != nil {
		return s.o.PeerClient
	}
	return http.DefaultClient
}

// mergeConferences orders a list gathered from several nodes by room,
// then node: a room two nodes mix at once (one cut off from the database
// while the other took the room over) shows twice, each with its node.
func mergeConferences(lists ...[]conferenceJSON) []conferenceJSON {
	out := make([]conferenceJSON, 0)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b conferenceJSON) int {
		return cmp.Or(cmp.Compare(a.Room, b.Room), cmp.Compare(a.Node, b.Node))
	})
	return out
}

// forwarding runs h for a room this node mixes, or that no node holds,
// and passes the request on otherwise (forward).
func (s *server) forwarding(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.forward(w, r) {
			h(w, r)
		}
	}
}

// forward passes a request about a room this node does not mix to the
// node whose lease says it does, and answers as that node answers; the
// action is carried out, and audited, there. It reports whether it took
// the request; when it did not, the room is handled here (a room this
// node mixes, or one no node holds: 404 as on a single bridge).
func (s *server) forward(w http.ResponseWriter, r *http.Request) bool {
	if !s.clustered(r) {
		return false
	}
	room := r.PathValue("room")
	if _, here := s.o.Conferences.Room(room); here {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), registryTimeout)
	p, ok, err := s.o.Cluster.RoomPeer(ctx, room)
	cancel()
	switch {
	case err != nil:
		s.log.Warn("api: which node mixes the room is unknown", "room", room, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the cluster's database does not answer: which node mixes the room is unknown")
		return true
	case !ok || p.ID == s.o.Cluster.Self():
		return false
	case p.API == "":
		writeError(w, http.StatusBadGateway, "node "+p.ID+" mixes the room but registered no API address")
		return true
	}
	target, err := url.Parse(strings.TrimSuffix(p.API, "/"))
	if err != nil {
		writeError(w, http.StatusBadGateway, "node "+p.ID+" registered a bad API address")
		return true
	}
	auditNote(r, "forwarded_to", p.ID)
	self := s.o.Cluster.Self()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(ViaHeader, self)
		},
		Transport: s.peerClient().Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn("api: the room's node did not answer", "room", room, "node", p.ID, "err", err)
			writeError(w, http.StatusBadGateway, "node "+p.ID+", which mixes the room, did not answer")
		},
	}
	fctx, fcancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer fcancel()
	r = r.WithContext(fctx)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	proxy.ServeHTTP(w, r)
	return true
}

// via is the node a forwarded request came through, for its audit line;
// only a name a node may have (config.CheckNodeID) is taken.
func via(r *http.Request) string {
	v := r.Header.Get(ViaHeader)
	if config.CheckNodeID(v) != nil {
		return ""
	}
	return v
}
