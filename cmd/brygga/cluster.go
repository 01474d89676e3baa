package main

import (
	"fmt"
	"log/slog"

	"brygga/cluster"
	"brygga/config"
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
