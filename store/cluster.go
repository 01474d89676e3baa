package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The cluster's registry and room leases: several nodes share one
// PostgreSQL, each node registers with a heartbeat, and a live room is
// mixed by the node that holds its lease. Every time is taken from the
// database's clock (now()), so no node's clock decides who owns a room.

// ErrNotShared is returned by the cluster's methods on a SQLite store: the
// nodes of a cluster must share their database.
var ErrNotShared = errors.New("a cluster needs PostgreSQL (store.url = postgres://…)")

// ErrNoOwner is returned by ClaimRoom when another node holds the room but
// has no row in cluster_nodes, so there is nowhere to send its callers;
// it lasts no longer than the lease.
var ErrNoOwner = errors.New("the room's node is not registered")

// Shared reports whether the database can be shared by the nodes of a
// cluster (PostgreSQL).
func (db *DB) Shared() bool { return db.sql.d == dialectPostgres }

// Lease is who mixes a room: the node and the SIP address it advertises.
type Lease struct {
	Room      string
	Node      string
	Advertise string
	Expires   time.Time // the database's clock
}

// claimAttempts bounds ClaimRoom's loop: a lease that changes hands between
// its two statements (released or expired just then) is claimed again.
const claimAttempts = 3

// ClaimRoom takes room for node unless another node holds an unexpired
// lease on it, and returns the room's lease either way: the one just taken
// or renewed (Node == node), or the other node's. Two nodes claiming a new
// room at once both get the same answer: the unique key on room makes one
// insert wait for the other's and then see its row.
func (db *DB) ClaimRoom(ctx context.Context, room, node string, ttl time.Duration) (Lease, error) {
	if !db.Shared() {
		return Lease{}, ErrNotShared
	}
	for range claimAttempts {
		l := Lease{Room: room, Node: node}
		// The WHERE of DO UPDATE is judged on the row as committed when
		// the insert meets it, so of two claims at once one inserts and
		// the other takes over only if that lease had expired.
		err := db.sql.QueryRowContext(ctx, `
INSERT INTO room_leases (room, node_id, expires) VALUES (?, ?, now() + ?::bigint * interval '1 microsecond')
ON CONFLICT (room) DO UPDATE SET node_id = EXCLUDED.node_id, expires = EXCLUDED.expires
	WHERE room_leases.node_id = EXCLUDED.node_id OR room_leases.expires <= now()
RETURNING expires`, room, node, ttl.Microseconds()).Scan(&l.Expires)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Lease{}, fmt.Errorf("store: claim room %s: %w", room, err)
		}
		// Another node's lease stood. A new statement sees it even when
		// it was committed after the insert began.
		var adv sql.NullString
		err = db.sql.QueryRowContext(ctx, `
SELECT l.node_id, l.expires, n.advertise FROM room_leases l LEFT JOIN cluster_nodes n ON n.node_id = l.node_id
WHERE l.room = ? AND l.expires > now()`, room).Scan(&l.Node, &l.Expires, &adv)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // released or expired in between: claim again
		case err != nil:
			return Lease{}, fmt.Errorf("store: claim room %s: %w", room, err)
		case l.Node == node:
			continue // our own lease, renewed by a heartbeat in between
		case !adv.Valid:
			return l, fmt.Errorf("store: room %s is held by node %s: %w", room, l.Node, ErrNoOwner)
		}
		l.Advertise = adv.String
		return l, nil
	}
	return Lease{}, fmt.Errorf("store: claim room %s: its lease kept changing hands", room)
}

// Heartbeat registers node at advertise (or renews its row), renews its
// leases of the rooms in live for ttl, takes the leases of live rooms that
// have none or an expired one, and releases every other lease of node's,
// all in one statement: a node's row and its leases live and die together.
// It returns the live rooms node holds now; a live room missing from it
// was taken by another node while this one could not renew.
func (db *DB) Heartbeat(ctx context.Context, node, advertise string, ttl time.Duration, live []string) (held []string, err error) {
	if !db.Shared() {
		return nil, ErrNotShared
	}
	if live == nil {
		live = []string{} // an empty array, not NULL, for <> ALL
	}
	rows, err := db.sql.QueryContext(ctx, `
WITH node AS (
	INSERT INTO cluster_nodes (node_id, advertise, heartbeat) VALUES (?, ?, now())
	ON CONFLICT (node_id) DO UPDATE SET advertise = EXCLUDED.advertise, heartbeat = EXCLUDED.heartbeat
), gone AS (
	DELETE FROM room_leases WHERE node_id = ? AND room <> ALL (?::text[])
)
INSERT INTO room_leases (room, node_id, expires)
SELECT r, ?, now() + ?::bigint * interval '1 microsecond' FROM unnest(?::text[]) AS r
ON CONFLICT (room) DO UPDATE SET node_id = EXCLUDED.node_id, expires = EXCLUDED.expires
	WHERE room_leases.node_id = EXCLUDED.node_id OR room_leases.expires <= now()
RETURNING room`, node, advertise, node, live, node, ttl.Microseconds(), live)
	if err != nil {
		return nil, fmt.Errorf("store: heartbeat of node %s: %w", node, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("store: heartbeat of node %s: %w", node, err)
		}
		held = append(held, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: heartbeat of node %s: %w", node, err)
	}
	return held, nil
}

// LeaveCluster removes node's row and releases all its leases, for a node
// that stops: its rooms are free at once instead of after their expiry.
func (db *DB) LeaveCluster(ctx context.Context, node string) error {
	if !db.Shared() {
		return ErrNotShared
	}
	_, err := db.sql.ExecContext(ctx, `
WITH gone AS (DELETE FROM room_leases WHERE node_id = ?)
DELETE FROM cluster_nodes WHERE node_id = ?`, node, node)
	if err != nil {
		return fmt.Errorf("store: node %s leaving: %w", node, err)
	}
	return nil
}

// Node is a registered node of the cluster.
type Node struct {
	ID        string
	Advertise string
	Heartbeat time.Time // its last, by the database's clock
	Leases    int       // unexpired
}

// Nodes lists the nodes whose heartbeat is younger than within, by the
// database's clock, with their unexpired leases counted.
func (db *DB) Nodes(ctx context.Context, within time.Duration) ([]Node, error) {
	if !db.Shared() {
		return nil, ErrNotShared
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT n.node_id, n.advertise, n.heartbeat,
	(SELECT count(*) FROM room_leases l WHERE l.node_id = n.node_id AND l.expires > now())
FROM cluster_nodes n WHERE n.heartbeat > now() - ?::bigint * interval '1 microsecond'
ORDER BY n.node_id`, within.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("store: nodes: %w", err)
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		if err := rows.Scan(&n.ID, &n.Advertise, &n.Heartbeat, &n.Leases); err != nil {
			return nil, fmt.Errorf("store: nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Peer is a live node of the cluster as the admin API reaches it.
type Peer struct {
	ID  string
	API string // base URL of its admin API; "" when it registered none
}

// SetNodeAPI records where the other nodes reach node's admin API. The
// node's row must exist (its first heartbeat made it); the heartbeat
// leaves the column alone.
func (db *DB) SetNodeAPI(ctx context.Context, node, api string) error {
	if !db.Shared() {
		return ErrNotShared
	}
	res, err := db.sql.ExecContext(ctx, `UPDATE cluster_nodes SET api = ? WHERE node_id = ?`, api, node)
	if err != nil {
		return fmt.Errorf("store: API address of node %s: %w", node, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: API address of node %s: the node is not registered", node)
	}
	return nil
}

// Peers lists the nodes whose heartbeat is younger than within, by the
// database's clock, with their API addresses.
func (db *DB) Peers(ctx context.Context, within time.Duration) ([]Peer, error) {
	if !db.Shared() {
		return nil, ErrNotShared
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT node_id, api FROM cluster_nodes WHERE heartbeat > now() - ?::bigint * interval '1 microsecond'
ORDER BY node_id`, within.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("store: peers: %w", err)
	}
	defer rows.Close()
	var out []Peer
	for rows.Next() {
		var p Peer
		if err := rows.Scan(&p.ID, &p.API); err != nil {
			return nil, fmt.Errorf("store: peers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RoomPeer is the node holding an unexpired lease on room, with its API
// address; ok false when no node holds it (or its node has no row).
func (db *DB) RoomPeer(ctx context.Context, room string) (p Peer, ok bool, err error) {
	if !db.Shared() {
		return Peer{}, false, ErrNotShared
	}
	err = db.sql.QueryRowContext(ctx, `
SELECT n.node_id, n.api FROM room_leases l JOIN cluster_nodes n ON n.node_id = l.node_id
WHERE l.room = ? AND l.expires > now()`, room).Scan(&p.ID, &p.API)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Peer{}, false, nil
	case err != nil:
		return Peer{}, false, fmt.Errorf("store: node of room %s: %w", room, err)
	}
	return p, true, nil
}
