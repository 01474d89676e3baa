package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"brygga/api"
	"brygga/cluster"
	"brygga/config"
	"brygga/events"
	"brygga/metrics"
	"brygga/store"
)

// joinCluster registers this bridge as the node cluster.node_id in the
// shared database and keeps it registered until Close, which is for after
// the calls have drained: leaving releases the node's rooms at once.
func joinCluster(cfg *config.Config, db *store.DB, m *metrics.Metrics, log *slog.Logger) (*cluster.Node, error) {
	var node *cluster.Node
	redirected, failed := m.Cluster(func() int {
		if node == nil {
			return 0
		}
		return node.Leases()
	})
	node, err := cluster.Start(cluster.Options{
		Leases:     db,
		ID:         cfg.Cluster.NodeID,
		Advertise:  cfg.Cluster.Advertise,
		Heartbeat:  cfg.Cluster.Heartbeat,
		Logger:     log,
		OnRedirect: redirected,
		OnError:    failed,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s could not register: %w", cfg.Cluster.NodeID, err)
	}
	log.Info("cluster node registered", "node", cfg.Cluster.NodeID, "advertise", cfg.Cluster.Advertise,
		"heartbeat", cfg.Cluster.Heartbeat, "lease", cluster.LeaseBeats*cfg.Cluster.Heartbeat)
	return node, nil
}

// advertiseAPI records where the other nodes reach this node's API, once
// its listener is bound (at bound): until then they leave this node out
// of their lists.
func advertiseAPI(cfg *config.Config, db *store.DB, bound string, log *slog.Logger) error {
	if cfg.Cluster.NodeID == "" {
		return nil
	}
	u := cfg.APIURL(bound)
	ctx, cancel := context.WithTimeout(context.Background(), max(cfg.Cluster.Heartbeat, time.Second))
	defer cancel()
	if err := db.SetNodeAPI(ctx, cfg.Cluster.NodeID, u); err != nil {
		return fmt.Errorf("cluster: node %s could not register its API address: %w", cfg.Cluster.NodeID, err)
	}
	log.Info("cluster node's API registered", "node", cfg.Cluster.NodeID, "api", u)
	return nil
}

// eventBus is the event stream: this process's own on a single bridge; on
// a node of a cluster, every node's, through the database.
func eventBus(cfg *config.Config, db *store.DB, log *slog.Logger) (*events.Bus, error) {
	if cfg.Cluster.NodeID == "" {
		return events.New(0, nil), nil
	}
	bus, err := events.NewShared(db, events.SharedOptions{Node: cfg.Cluster.NodeID, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s could not read the shared events: %w", cfg.Cluster.NodeID, err)
	}
	return bus, nil
}

// peers is the admin API's view of the cluster (api.Cluster): the store's
// node registry, a node counted live while its lease would stand.
type peers struct {
	db   *store.DB
	self string
	live time.Duration
}

func (p peers) Self() string { return p.self }

func (p peers) Peers(ctx context.Context) ([]store.Peer, error) { return p.db.Peers(ctx, p.live) }

func (p peers) RoomPeer(ctx context.Context, room string) (store.Peer, bool, error) {
	return p.db.RoomPeer(ctx, room)
}

// apiCluster is api.Options.Cluster: nil on a single bridge.
func apiCluster(cfg *config.Config, db *store.DB) api.Cluster {
	if cfg.Cluster.NodeID == "" {
		return nil
	}
	return peers{db: db, self: cfg.Cluster.NodeID, live: cluster.LeaseBeats * cfg.Cluster.Heartbeat}
}
