package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"brygga/config"
	"brygga/events"
	"brygga/prompts"
	"brygga/recordings"
	"brygga/store"
)

// recorder is the bridge's recording side: the Recorder rooms start
// recordings with, the Queue that delivers them, and the Archive the API
// shows.
type recorder struct {
	rec     *recordings.Recorder
	queue   *recordings.Queue
	archive *recordings.Archive
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// startRecordings repairs what a crash left unfinished, then starts the
// delivery queue. Recordings live in <data>/recordings.
func startRecordings(cfg *config.Config, db *store.DB, bus *events.Bus, lib *prompts.Library, log *slog.Logger, onResult func(string)) (*recorder, error) {
	node := nodeName(cfg, db)
	q := &recordings.Queue{
		DB: db, Deliverers: deliverers(cfg, db, lib, log), KeepDays: cfg.Recordings.KeepDays,
		Events: bus, Logger: log, OnResult: onResult, Node: node,
	}
	q.Prepare()
	r := &recorder{
		rec:     &recordings.Recorder{Dir: filepath.Join(cfg.Data, "recordings"), DB: db, Queue: q, Logger: log, Node: node},
		queue:   q,
		archive: &recordings.Archive{DB: db, Queue: q},
	}
	n, err := r.rec.Recover()
	if n > 0 {
		log.Warn("recordings left unfinished by a crash were repaired and queued", "count", n)
	}
	if err != nil {
		log.Error("recordings: repairing after a crash", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		q.Run(ctx)
	}()
	return r, nil
}

// nodeName is the name this node's recordings and delivery claims carry
// in a store several nodes share: its host name and data folder, which
// tell apart the nodes whose disks the recordings are on. A SQLite store
// has one node, which delivers every row, so it needs none, and a host
// renamed (a new container) does not orphan its recordings.
// A cluster node is named by cluster.node_id, which outlives a change of
// host name or folder.
func nodeName(cfg *config.Config, db *store.DB) string {
	if !db.Shared() {
		return ""
	}
	if cfg.Cluster.NodeID != "" {
		return cfg.Cluster.NodeID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	data, err := filepath.Abs(cfg.Data)
	if err != nil {
		data = cfg.Data
	}
	return host + ":" + data
}

// close stops the queue; a delivery under way is interrupted and due again
// at the next start.
func (r *recorder) close() {
	r.stop()
	r.done.Wait()
}

// deliverers are the ways to the owners' voicemail this bridge's config
// allows: spool always, mail with mail.smtp, SIP calls always.
func deliverers(cfg *config.Config, db *store.DB, lib *prompts.Library, log *slog.Logger) map[string]recordings.Deliverer {
	d := map[string]recordings.Deliverer{
		"spool": recordings.Spool{},
		"sip": recordings.SIPCall{
			Proxy:   cfg.Voicemail.SIPProxy,
			LocalIP: cfg.Media.IP,
			MaxPart: time.Duration(cfg.Voicemail.MaxSeconds) * time.Second,
			Prompts: lib,
			Logger:  log,
			Progress: recordings.SIPProgress{
				// Kept in the store, so a restart in the middle of a
				// long recording does not deposit its first parts again.
				Done: func(id string) int {
					r, err := db.Recording(id)
					if err != nil {
						return 0
					}
					return r.PartsDone
				},
				MarkDone: func(id string, part int) {
					if err := db.SetRecordingParts(id, part); err != nil {
						log.Error("recordings: storing a delivered part", "recording", id, "part", part, "err", err)
					}
				},
			},
		},
	}
	if cfg.Mail.SMTP != "" {
		link := cfg.Recordings.LinkURL
		if link == "" {
			link = "http://" + cfg.API.Listen
		}
		d["mailto"] = recordings.Mail{
			URL: cfg.Mail.SMTP, From: cfg.Mail.From, MaxBytes: int64(cfg.Recordings.MaxEmailMB) << 20, LinkBase: link,
		}
	}
	return d
}
